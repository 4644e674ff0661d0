import { describe, expect, it } from '@jest/globals';
import { parseTrustProxy, validateEnv } from './env.schema.js';

function caught(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(Error);
    return error as Error;
  }
  throw new Error('expected validateEnv to throw');
}

describe(validateEnv.name, () => {
  it('should accept a send lease shorter than the SMTP timeouts, since leases are renewed while an attempt runs', () => {
    expect(() => validateEnv({ SEND_LEASE_SECONDS: '5', SMTP_SOCKET_TIMEOUT_MS: '600000' })).not.toThrow();
    expect(() => validateEnv({ SEND_LEASE_SECONDS: '4' })).toThrow(/SEND_LEASE_SECONDS/);
  });

  it('should apply the documented defaults when the environment is empty', () => {
    expect(validateEnv({})).toMatchObject({
      NODE_ENV: 'development',
      PORT: 8000,
      HOST: '0.0.0.0',
      DATA_DIR: './data',
      DATABASE_POOL_SIZE: 10,
      DATABASE_CONNECT_TIMEOUT_MS: 5000,
      DATABASE_STATEMENT_TIMEOUT_MS: 10_000,
      DATABASE_QUERY_TIMEOUT_MS: 15_000,
      LOG_LEVEL: 'info',
      LOG_REPEAT_INTERVAL_SECONDS: 60,
    });
  });

  it('should refuse a query timeout shorter than the statement timeout', () => {
    expect(() => validateEnv({ DATABASE_STATEMENT_TIMEOUT_MS: '20000' })).toThrow(/DATABASE_QUERY_TIMEOUT_MS must be at least/);
    expect(() => validateEnv({ DATABASE_STATEMENT_TIMEOUT_MS: '20000', DATABASE_QUERY_TIMEOUT_MS: '20000' })).not.toThrow();
  });

  it.each(['DATABASE_CONNECT_TIMEOUT_MS', 'DATABASE_STATEMENT_TIMEOUT_MS', 'DATABASE_QUERY_TIMEOUT_MS', 'LOG_REPEAT_INTERVAL_SECONDS'])(
    'should throw an error naming %s when it is not a positive number',
    (name) => {
      expect(() => validateEnv({ [name]: '0' })).toThrow(name);
      expect(() => validateEnv({ [name]: 'soon' })).toThrow(name);
    },
  );

  it('should convert numbers from their string form when they are valid', () => {
    expect(validateEnv({ PORT: '8080', DATABASE_POOL_SIZE: '25' })).toMatchObject({ PORT: 8080, DATABASE_POOL_SIZE: 25 });
  });

  it('should treat an empty DATABASE_URL or ADMIN_API_KEY as unset', () => {
    const env = validateEnv({ DATABASE_URL: '', ADMIN_API_KEY: '' });
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.ADMIN_API_KEY).toBeUndefined();
  });

  it('should accept a postgres URL when DATABASE_URL is set', () => {
    const url = 'postgresql://app:pw@db.internal:5432/email';
    expect(validateEnv({ DATABASE_URL: url }).DATABASE_URL).toBe(url);
  });

  it.each(['abc', '70000', '-1', '80.5'])('should throw an error naming PORT when PORT is %j', (port) => {
    const error = caught(() => validateEnv({ PORT: port }));
    expect(error.message).toMatch(/^Invalid configuration: /);
    expect(error.message).toContain('PORT');
  });

  it.each(['mysql://root@db/email', 'not a url', 'http://db:5432/email'])(
    'should throw an error naming DATABASE_URL when its scheme is wrong (%s)',
    (url) => {
      expect(caught(() => validateEnv({ DATABASE_URL: url })).message).toContain('DATABASE_URL');
    },
  );

  it('should not repeat the password when DATABASE_URL is rejected', () => {
    const message = caught(() => validateEnv({ DATABASE_URL: 'mysql://root:Sup3rSecretPw@db/email' })).message;
    expect(message).toContain('DATABASE_URL');
    expect(message).not.toContain('Sup3rSecretPw');
  });

  it('should not repeat a too-short ADMIN_API_KEY when rejecting it', () => {
    const message = caught(() => validateEnv({ ADMIN_API_KEY: 'short-key' })).message;
    expect(message).toContain('ADMIN_API_KEY');
    expect(message).not.toContain('short-key');
  });

  it('should name every bad variable at once when several are wrong', () => {
    const message = caught(() => validateEnv({ PORT: 'abc', LOG_LEVEL: 'loud', NODE_ENV: 'staging' })).message;
    for (const name of ['PORT', 'LOG_LEVEL', 'NODE_ENV']) expect(message).toContain(name);
  });

  it('should read CORS_ORIGINS as normalised origins, none by default', () => {
    expect(validateEnv({})).toMatchObject({ CORS_ORIGINS: '', BODY_LIMIT_BYTES: 100 * 1024 });
    expect(validateEnv({ CORS_ORIGINS: ' https://App.Example.com , http://localhost:5173/,https://a.example.com:443' }).CORS_ORIGINS).toBe(
      'https://app.example.com,http://localhost:5173,https://a.example.com',
    );
  });

  it.each(['*', 'app.example.com', 'https://app.example.com/admin', 'ftp://app.example.com', 'https://user:pw@app.example.com', 'null'])(
    'should refuse %j in CORS_ORIGINS, naming the variable',
    (entry) => {
      expect(() => validateEnv({ CORS_ORIGINS: `https://ok.example.com,${entry}` })).toThrow(/CORS_ORIGINS.*is not an origin/);
    },
  );

  describe('ADMIN_API_KEY in production', () => {
    const STRONG = 'q7Vw-2kLx9Rt_Hn4Zp8Jm3Bc6Dy1Fg5S'; // 32 characters, all different

    it.each([
      ['shorter than 32 characters', STRONG.slice(0, 31)],
      ['a single repeated character', 'a'.repeat(64)],
      ['two characters alternating', 'ab'.repeat(32)],
      ['seven different characters', 'abcdefg'.repeat(6)],
    ])('should refuse a key %s, naming the variable and not quoting the key', (_, key) => {
      const message = caught(() => validateEnv({ NODE_ENV: 'production', ADMIN_API_KEY: key })).message;
      expect(message).toMatch(/^Invalid configuration: ADMIN_API_KEY must be at least 32 characters/);
      expect(message).not.toContain(key);
    });

    it('should accept a long, varied key in production, and a random one as openssl makes them', () => {
      expect(validateEnv({ NODE_ENV: 'production', ADMIN_API_KEY: STRONG }).ADMIN_API_KEY).toBe(STRONG);
      expect(() => validateEnv({ NODE_ENV: 'production', ADMIN_API_KEY: 'abcdefgh'.repeat(4) })).not.toThrow();
      expect(() => validateEnv({ NODE_ENV: 'production', ADMIN_API_KEY: 'Xk3P0r5dFQ9bHn1WmZ7tLc2YvJ8sGe4AuR6hN0oDqTI=' })).not.toThrow();
    });

    it('should still accept a 16-character key outside production, and no key at all in production', () => {
      expect(() => validateEnv({ NODE_ENV: 'development', ADMIN_API_KEY: 'a'.repeat(16) })).not.toThrow();
      expect(() => validateEnv({ NODE_ENV: 'test', ADMIN_API_KEY: 'e2e-admin-key-0123456789abcdef' })).not.toThrow();
      expect(() => validateEnv({ NODE_ENV: 'production' })).not.toThrow();
    });
  });

  describe('SNS_CERT_HOST_PATTERN and SNS_CERT_CA_FILE (tests only)', () => {
    it('should take a regular expression outside production', () => {
      expect(validateEnv({ NODE_ENV: 'test', SNS_CERT_HOST_PATTERN: '^127\\.0\\.0\\.1:\\d+$' }).SNS_CERT_HOST_PATTERN).toBe(
        '^127\\.0\\.0\\.1:\\d+$',
      );
      expect(caught(() => validateEnv({ NODE_ENV: 'test', SNS_CERT_HOST_PATTERN: '([' })).message).toContain('SNS_CERT_HOST_PATTERN');
    });

    it.each(['SNS_CERT_HOST_PATTERN', 'SNS_CERT_CA_FILE'])('should refuse %s when NODE_ENV=production', (name) => {
      expect(caught(() => validateEnv({ NODE_ENV: 'production', [name]: 'x' })).message).toMatch(/for tests only/);
    });
  });

  describe('AUTH_FAILURES_PER_MINUTE and TRUST_PROXY', () => {
    it('should default to 20 failures a minute and no trusted proxy', () => {
      const env = validateEnv({});
      expect(env.AUTH_FAILURES_PER_MINUTE).toBe(20);
      expect(env.TRUST_PROXY).toBeUndefined();
      expect(validateEnv({ TRUST_PROXY: '' }).TRUST_PROXY).toBeUndefined();
    });

    it.each(['-1', '1.5', 'many'])('should throw naming AUTH_FAILURES_PER_MINUTE when it is %j', (value) => {
      expect(caught(() => validateEnv({ AUTH_FAILURES_PER_MINUTE: value })).message).toContain('AUTH_FAILURES_PER_MINUTE');
    });

    it('should accept addresses, CIDR ranges and proxy-addr names in TRUST_PROXY, as a list', () => {
      const value = 'loopback, 10.0.0.0/8,192.168.1.10, fd00::/8, ::1, uniquelocal, linklocal';
      expect(validateEnv({ TRUST_PROXY: value }).TRUST_PROXY).toBe(value);
      expect(parseTrustProxy(value)).toEqual(['loopback', '10.0.0.0/8', '192.168.1.10', 'fd00::/8', '::1', 'uniquelocal', 'linklocal']);
    });

    it.each(['true', '1', '*', 'proxy.internal', '10.0.0.0/33', '10.0.0.0/8,', 'loopback,,10.0.0.1'])(
      'should refuse TRUST_PROXY=%j, which would trust any X-Forwarded-For or is not an address',
      (value) => {
        const message = caught(() => validateEnv({ TRUST_PROXY: value })).message;
        expect(message).toContain('TRUST_PROXY');
        expect(parseTrustProxy(value)).toBeNull();
      },
    );
  });

  describe('message retention', () => {
    it('should keep bodies 7 days and rows 90, in rounds of 1000 every 300 seconds, by default', () => {
      expect(validateEnv({})).toMatchObject({
        MESSAGE_RETENTION_ENABLED: true,
        MESSAGE_BODY_RETENTION_DAYS: 7,
        MESSAGE_RETENTION_DAYS: 90,
        MESSAGE_RETENTION_BATCH_SIZE: 1000,
        MESSAGE_RETENTION_INTERVAL_SECONDS: 300,
      });
    });

    it('should accept a body retention of 0 (dropped at the next round) and one equal to the row retention', () => {
      expect(validateEnv({ MESSAGE_BODY_RETENTION_DAYS: '0', MESSAGE_RETENTION_DAYS: '1' })).toMatchObject({
        MESSAGE_BODY_RETENTION_DAYS: 0,
        MESSAGE_RETENTION_DAYS: 1,
      });
      expect(() => validateEnv({ MESSAGE_BODY_RETENTION_DAYS: '30', MESSAGE_RETENTION_DAYS: '30' })).not.toThrow();
    });

    it('should refuse bodies kept longer than their rows, the default row retention included', () => {
      expect(() => validateEnv({ MESSAGE_BODY_RETENTION_DAYS: '31', MESSAGE_RETENTION_DAYS: '30' })).toThrow(
        'MESSAGE_BODY_RETENTION_DAYS must be at most MESSAGE_RETENTION_DAYS',
      );
      expect(() => validateEnv({ MESSAGE_BODY_RETENTION_DAYS: '91' })).toThrow(/MESSAGE_BODY_RETENTION_DAYS must be at most/);
      expect(() => validateEnv({ MESSAGE_RETENTION_DAYS: '6' })).toThrow(/MESSAGE_BODY_RETENTION_DAYS must be at most/);
    });

    it.each([
      ['MESSAGE_RETENTION_DAYS', '0'],
      ['MESSAGE_RETENTION_DAYS', '1.5'],
      ['MESSAGE_BODY_RETENTION_DAYS', '-1'],
      ['MESSAGE_BODY_RETENTION_DAYS', 'week'],
      ['MESSAGE_RETENTION_BATCH_SIZE', '0'],
      ['MESSAGE_RETENTION_BATCH_SIZE', '10001'],
      ['MESSAGE_RETENTION_INTERVAL_SECONDS', '0'],
      ['MESSAGE_RETENTION_ENABLED', 'sometimes'],
    ])('should throw naming %s when it is %j', (name, value) => {
      expect(caught(() => validateEnv({ [name]: value })).message).toContain(name);
    });
  });

  describe('metrics (issue #13)', () => {
    it('should serve no unauthenticated metrics port by default, and bind one to loopback when set', () => {
      const defaults = validateEnv({});
      expect(defaults.METRICS_PORT).toBeUndefined();
      expect(defaults.METRICS_HOST).toBe('127.0.0.1');
      expect(validateEnv({ METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0' })).toMatchObject({ METRICS_PORT: 9464, METRICS_HOST: '0.0.0.0' });
    });

    it('should refuse METRICS_PORT equal to PORT', () => {
      expect(() => validateEnv({ METRICS_PORT: '8000' })).toThrow(/METRICS_PORT must differ from PORT/);
      expect(() => validateEnv({ PORT: '0', METRICS_PORT: '0' })).not.toThrow();
    });

    it.each([
      ['METRICS_PORT', '70000'],
      ['METRICS_PORT', 'nine'],
      ['METRICS_PORT', '-1'],
      ['METRICS_HOST', 'not a host'],
      ['METRICS_HOST', 'http://10.0.0.1'],
    ])('should throw naming %s when it is %j', (name, value) => {
      expect(caught(() => validateEnv({ [name]: value })).message).toContain(name);
    });
  });
});
