import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { Fernet, FernetError, FernetKeyRing } from './fernet.js';

interface Vector {
  token: string;
  now: string;
  secret: string;
  src?: string;
  iv?: number[];
  ttl_sec?: number;
  desc?: string;
}

// The specification's official vectors, kept beside the test (see fixtures/fernet/README.md).
const vectorDir = path.join(import.meta.dirname, 'fixtures', 'fernet');
const loadVectors = (name: string): Vector[] => JSON.parse(readFileSync(path.join(vectorDir, name), 'utf8')) as Vector[];
const unixSeconds = (iso: string): number => Date.parse(iso) / 1000;

const generate = loadVectors('generate.json');
const verify = loadVectors('verify.json');
const invalid = loadVectors('invalid.json');

const KEY = 'cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=';
const NOW = 1_700_000_000;
const SECRET = 'smtp-password-Ünïcode-🔑';

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a FernetError, nothing was thrown');
}

function expectFernetError(fn: () => unknown, code = 'FERNET_INVALID'): FernetError {
  const error = caught(fn);
  expect(error).toBeInstanceOf(FernetError);
  expect((error as FernetError).code).toBe(code);
  return error as FernetError;
}

function expectNoLeak(error: unknown, ...secrets: string[]): void {
  const rendered = [String(error), (error as Error).stack, JSON.stringify(error), inspect(error)].join('\n');
  for (const secret of secrets) expect(rendered).not.toContain(secret);
}

/** Replaces the byte at `index` of the decoded token and re-encodes it canonically. */
function tamper(token: string, index: number, value: number): string {
  const bytes = Buffer.from(token, 'base64url');
  bytes[index] = value;
  return bytes.toString('base64').replaceAll('+', '-').replaceAll('/', '_');
}

describe(Fernet.name, () => {
  describe('spec vectors', () => {
    it.each(generate.map((v) => [v.src, v] as const))('should generate the spec token when encrypting %j', (_, v) => {
      const fernet = new Fernet(v.secret);
      expect(fernet.encrypt(v.src!, { now: unixSeconds(v.now), iv: Buffer.from(v.iv!) })).toBe(v.token);
    });

    it.each(verify.map((v) => [v.src, v] as const))('should decrypt to %j when verifying the spec token', (_, v) => {
      const fernet = new Fernet(v.secret);
      expect(fernet.decryptToString(v.token, { ttlSeconds: v.ttl_sec, now: unixSeconds(v.now) })).toBe(v.src);
    });

    it.each(invalid.map((v) => [v.desc, v] as const))('should reject the spec token (%s) when verifying', (_, v) => {
      const fernet = new Fernet(v.secret);
      const error = expectFernetError(() => fernet.decrypt(v.token, { ttlSeconds: v.ttl_sec, now: unixSeconds(v.now) }));
      expectNoLeak(error, v.token, v.secret);
    });
  });

  describe('round trip', () => {
    const fernet = new Fernet(Fernet.generateKey());

    it.each([
      ['empty', ''],
      ['one block exactly', '0123456789abcdef'],
      ['unicode', SECRET],
    ])('should return the plaintext when encrypting %s text', (_, text) => {
      expect(fernet.decryptToString(fernet.encrypt(text))).toBe(text);
    });

    it('should return the bytes when encrypting binary data', () => {
      const bytes = Buffer.from([0, 255, 128, 10, 13, 0]);
      expect(fernet.decrypt(fernet.encrypt(bytes))).toEqual(bytes);
    });

    it('should use a fresh IV when encrypting the same plaintext twice', () => {
      expect(fernet.encrypt(SECRET, { now: NOW })).not.toBe(fernet.encrypt(SECRET, { now: NOW }));
    });

    it('should emit padded URL-safe base64 when encrypting', () => {
      for (let length = 0; length < 40; length++) {
        const token = fernet.encrypt('x'.repeat(length));
        expect(token).toMatch(/^[A-Za-z0-9_-]+={0,2}$/);
        expect(token.length % 4).toBe(0);
      }
    });
  });

  describe('time checks', () => {
    const fernet = new Fernet(KEY);
    const token = fernet.encrypt(SECRET, { now: NOW });

    it('should accept the token when its age equals the TTL', () => {
      expect(fernet.decryptToString(token, { ttlSeconds: 60, now: NOW + 60 })).toBe(SECRET);
    });

    it('should reject the token when it is older than the TTL', () => {
      expectFernetError(() => fernet.decrypt(token, { ttlSeconds: 60, now: NOW + 61 }));
    });

    it('should accept the token when it is at most 60 s in the future', () => {
      expect(fernet.decryptToString(token, { ttlSeconds: 10, now: NOW - 60 })).toBe(SECRET);
    });

    it('should reject the token when it is more than 60 s in the future', () => {
      expectFernetError(() => fernet.decrypt(token, { ttlSeconds: 10, now: NOW - 61 }));
    });

    it('should ignore age and skew when no TTL is given, as Python does', () => {
      expect(fernet.decryptToString(token, { now: NOW + 10 ** 9 })).toBe(SECRET);
      expect(fernet.decryptToString(token, { now: NOW - 10 ** 6 })).toBe(SECRET);
    });
  });

  describe('strict decoding', () => {
    const fernet = new Fernet(KEY);
    const token = fernet.encrypt('hello', { now: NOW });

    it.each([
      ['missing padding', token.replace(/=+$/, '')],
      ['extra padding', `${token}==`],
      ['a trailing newline', `${token}\n`],
      ['inner whitespace', `${token.slice(0, 10)} ${token.slice(10)}`],
      ['the standard alphabet', Buffer.from(token, 'base64url').toString('base64')],
      ['an empty string', ''],
      ['a wrong version byte', tamper(token, 0, 0x81)],
      ['a flipped ciphertext bit', tamper(token, 30, Buffer.from(token, 'base64url')[30]! ^ 1)],
    ])('should reject the token when it has %s', (_, bad) => {
      expect(bad).not.toBe(token);
      expectFernetError(() => fernet.decrypt(bad));
    });

    it('should reject the token when its unused trailing bits are set', () => {
      // 'hello' makes a 73-byte token: its last base64 character carries 4 unused bits.
      const last = token.at(-3)!;
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const bad = `${token.slice(0, -3)}${alphabet[alphabet.indexOf(last) | 1]}==`;
      expect(Buffer.from(bad, 'base64url')).toEqual(Buffer.from(token, 'base64url'));
      expectFernetError(() => fernet.decrypt(bad));
    });

    it('should reject the token when it is not a string', () => {
      expectFernetError(() => fernet.decrypt(Buffer.from(token) as unknown as string));
    });

    it('should reject the token when it was made with another key', () => {
      const error = expectFernetError(() => new Fernet(Fernet.generateKey()).decrypt(token));
      expectNoLeak(error, token, KEY, 'hello');
    });
  });

  describe('keys', () => {
    it('should generate a 44-character padded URL-safe key when asked', () => {
      const key = Fernet.generateKey();
      expect(key).toMatch(/^[A-Za-z0-9_-]{43}=$/);
      expect(new Fernet(key).decryptToString(new Fernet(key).encrypt('x'))).toBe('x');
    });

    it.each([
      ['missing padding', KEY.slice(0, -1)],
      ['the standard alphabet', Buffer.from(KEY, 'base64url').toString('base64')],
      ['16 bytes', Buffer.alloc(16, 1).toString('base64url')],
      ['48 bytes', Buffer.alloc(48, 1).toString('base64url')],
      ['surrounding whitespace', ` ${KEY}`],
      ['an empty string', ''],
    ])('should reject the key when it has %s', (_, key) => {
      const error = expectFernetError(() => new Fernet(key), 'FERNET_BAD_KEY');
      expect(error.message).toBe('invalid Fernet key');
      if (key) expectNoLeak(error, key);
    });

    it('should not expose the key when the instance is inspected', () => {
      const fernet = new Fernet(KEY);
      const rendered = `${inspect(fernet, { showHidden: true })}${JSON.stringify(fernet)}`;
      expect(rendered).not.toContain(KEY);
      expect(rendered).not.toContain(Buffer.from(KEY, 'base64url').subarray(0, 16).toString('hex'));
    });
  });

  describe('Python interop (/usr/bin/python3, python3-cryptography)', () => {
    const PYTHON = '/usr/bin/python3';
    let checked = false;

    function python(script: string, args: string[], input: Buffer | string): Buffer {
      if (!checked) {
        try {
          execFileSync(PYTHON, ['-I', '-c', 'import cryptography.fernet'], { stdio: 'pipe' });
        } catch {
          throw new Error(`${PYTHON} cannot import cryptography: run \`apt-get install python3-cryptography\` (CI installs it)`);
        }
        checked = true;
      }
      return execFileSync(PYTHON, ['-I', '-c', script, ...args], { input, stdio: 'pipe' });
    }

    const PY_ENCRYPT =
      'import sys\nfrom cryptography.fernet import Fernet\n' +
      'sys.stdout.write(Fernet(sys.argv[1].encode()).encrypt(sys.stdin.buffer.read()).decode())';
    const PY_DECRYPT =
      'import sys\nfrom cryptography.fernet import Fernet\n' +
      'sys.stdout.buffer.write(Fernet(sys.argv[1].encode()).decrypt(sys.stdin.buffer.read(), ttl=int(sys.argv[2])))';
    const PY_ROTATE =
      'import sys\nfrom cryptography.fernet import Fernet, MultiFernet\n' +
      'ring = MultiFernet([Fernet(k.encode()) for k in sys.argv[1:]])\n' +
      'sys.stdout.write(ring.rotate(sys.stdin.buffer.read()).decode())';

    it('should decrypt the token when Python made it', () => {
      const key = Fernet.generateKey();
      const token = python(PY_ENCRYPT, [key], SECRET).toString('ascii');
      expect(new Fernet(key).decryptToString(token, { ttlSeconds: 60 })).toBe(SECRET);
    });

    it('should be decryptable by Python when made here', () => {
      const key = Fernet.generateKey();
      const bytes = Buffer.concat([Buffer.from(SECRET), Buffer.from([0, 255, 1])]);
      expect(python(PY_DECRYPT, [key, '60'], new Fernet(key).encrypt(bytes))).toEqual(bytes);
    });

    it('should decrypt here when Python rotated a token made here', () => {
      const [oldKey, newKey] = [Fernet.generateKey(), Fernet.generateKey()];
      const token = new Fernet(oldKey).encrypt(SECRET, { now: NOW });
      const rotated = python(PY_ROTATE, [newKey, oldKey], token).toString('ascii');
      expect(new Fernet(newKey).decryptToString(rotated)).toBe(SECRET);
      expect(Buffer.from(rotated, 'base64url').readBigUInt64BE(1)).toBe(BigInt(NOW));
    });
  });
});

describe(FernetKeyRing.name, () => {
  const [oldKey, newKey] = [Fernet.generateKey(), Fernet.generateKey()];
  const ring = new FernetKeyRing([newKey, oldKey]);
  const oldToken = new Fernet(oldKey).encrypt(SECRET, { now: NOW });

  it('should encrypt with the primary key when encrypting', () => {
    expect(new Fernet(newKey).decryptToString(ring.encrypt(SECRET))).toBe(SECRET);
  });

  it('should decrypt the token when it was made with an older key in the ring', () => {
    expect(ring.decryptToString(oldToken)).toBe(SECRET);
  });

  it('should apply the TTL when decrypting with the ring', () => {
    expectFernetError(() => ring.decrypt(oldToken, { ttlSeconds: 60, now: NOW + 61 }));
  });

  it('should re-encrypt under the primary key, keeping the timestamp, when rotating', () => {
    const rotated = ring.rotate(oldToken);
    expect(new Fernet(newKey).decryptToString(rotated)).toBe(SECRET);
    expectFernetError(() => new Fernet(oldKey).decrypt(rotated));
    expect(Buffer.from(rotated, 'base64url').readBigUInt64BE(1)).toBe(BigInt(NOW));
  });

  it('should tell whether the token is under the primary key when asked', () => {
    expect(ring.isPrimary(oldToken)).toBe(false);
    expect(ring.isPrimary(ring.rotate(oldToken))).toBe(true);
    expect(ring.isPrimary(ring.encrypt(SECRET))).toBe(true);
    expect(ring.isPrimary('not a token')).toBe(false);
  });

  it('should reject the token without leaking it when no key in the ring matches', () => {
    const stranger = new Fernet(Fernet.generateKey()).encrypt(SECRET);
    for (const fn of [() => ring.decrypt(stranger), () => ring.rotate(stranger)]) {
      expectNoLeak(expectFernetError(fn), stranger, SECRET, newKey, oldKey);
    }
  });

  it('should build the ring from comma-separated keys when parsing', () => {
    const parsed = FernetKeyRing.parse(` ${newKey} ,\n${oldKey}\t`);
    expect(parsed.decryptToString(oldToken)).toBe(SECRET);
    expect(parsed.isPrimary(parsed.encrypt(SECRET))).toBe(true);
    expect(new Fernet(newKey).decryptToString(parsed.encrypt(SECRET))).toBe(SECRET);
  });

  it.each([
    ['an empty list', () => new FernetKeyRing([])],
    ['an empty string', () => FernetKeyRing.parse('')],
    ['an empty entry', () => FernetKeyRing.parse(`${newKey},,${oldKey}`)],
    ['an invalid key', () => FernetKeyRing.parse(`${newKey},nope`)],
  ])('should reject the keys when given %s', (_, fn) => {
    expectNoLeak(expectFernetError(fn, 'FERNET_BAD_KEY'), newKey, oldKey);
  });
});
