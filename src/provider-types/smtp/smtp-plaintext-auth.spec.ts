import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import net from 'node:net';
import type { AppConfig, SendingConfig } from '../../config/app-config.js';
import type { SendingProvider } from '../../providers/sending-provider.js';
import { OutboundPolicy, parseOutboundAllow } from '../../outbound/outbound-policy.js';
import { SendFailure } from '../send-failure.js';
import { passwordInClear, PLAINTEXT_AUTH_CODE, PLAINTEXT_AUTH_FIELD_ERROR } from './smtp-plaintext-auth.js';
import { checkSmtp } from './smtp.checker.js';
import { SmtpProviderType } from './smtp.provider-type.js';
import { SmtpTransport } from './smtp.transport.js';

const fields = (overrides: Record<string, unknown> = {}) => ({
  smtpHost: 'smtp.example.com',
  smtpPort: 587,
  smtpUsername: 'u',
  hasSmtpPassword: true,
  awsRegion: null,
  awsAccessKeyId: null,
  hasAwsSecretAccessKey: false,
  sesConfigurationSet: null,
  sesTopicArn: null,
  smtpUseTls: false,
  smtpUseSsl: false,
  ...overrides,
});

// The outbound policy allows the loopback servers these tests connect to.
const policy = new OutboundPolicy(parseOutboundAllow('127.0.0.1'));
const typeWith = (allow: boolean | undefined) => new SmtpProviderType({ smtpAllowPlaintextAuth: allow } as AppConfig, policy);

describe('no plaintext AUTH', () => {
  describe(passwordInClear.name, () => {
    it.each([
      [true, false, false, true],
      [true, true, false, false],
      [true, false, true, false],
      [false, false, false, false],
    ])('password %s, STARTTLS %s, implicit TLS %s → in clear: %s', (hasSmtpPassword, smtpUseTls, smtpUseSsl, expected) => {
      expect(passwordInClear({ hasSmtpPassword, smtpUseTls, smtpUseSsl })).toBe(expected);
    });
  });

  describe('SmtpProviderType.fieldErrors', () => {
    it('should refuse a password without TLS unless SMTP_ALLOW_PLAINTEXT_AUTH', () => {
      expect(typeWith(false).fieldErrors(fields())).toEqual({ non_field_errors: [PLAINTEXT_AUTH_FIELD_ERROR] });
      expect(typeWith(undefined).fieldErrors(fields())).toEqual({ non_field_errors: [PLAINTEXT_AUTH_FIELD_ERROR] });
      expect(typeWith(true).fieldErrors(fields())).toEqual({});
    });

    it('should allow no password without TLS, and a password over either TLS', () => {
      expect(typeWith(false).fieldErrors(fields({ hasSmtpPassword: false }))).toEqual({});
      expect(typeWith(false).fieldErrors(fields({ smtpUseTls: true }))).toEqual({});
      expect(typeWith(false).fieldErrors(fields({ smtpUseSsl: true }))).toEqual({});
    });

    it('should keep its other errors beside this one', () => {
      expect(typeWith(false).fieldErrors(fields({ smtpHost: null }))).toEqual({
        non_field_errors: [PLAINTEXT_AUTH_FIELD_ERROR],
        smtp_host: ['This field is required.'],
      });
    });
  });

  describe('a provider stored in that state', () => {
    let listener: net.Server;
    let connections = 0;
    let provider: SendingProvider;

    beforeAll(async () => {
      // Counts connections and says nothing: a client that connected would wait for a greeting.
      listener = net.createServer((socket) => {
        connections += 1;
        socket.destroy();
      });
      await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
      provider = {
        ...fields({ smtpPort: (listener.address() as net.AddressInfo).port, smtpHost: '127.0.0.1' }),
        id: 1,
        name: 'legacy',
        providerType: 'smtp',
        isActive: true,
        isDefault: false,
        priority: 1,
        healthStatus: 'unknown',
        unhealthySince: null,
        consecutiveFailures: 0,
        credentialsVersion: 1,
        fromEmail: 'a@example.com',
        fromName: 'A',
        replyTo: null,
      } as SendingProvider;
    });
    afterAll(async () => {
      await new Promise((resolve) => listener.close(resolve));
    });

    const timeouts = { connectionTimeoutMs: 500, greetingTimeoutMs: 500, socketTimeoutMs: 500, maxConnections: 1 };
    const sending = { messageIdDomain: 'test.local', smtp: timeouts } as SendingConfig;
    const config = (allow: boolean) => ({ smtpAllowPlaintextAuth: allow, health: { timeoutMs: 500 }, sending }) as AppConfig;

    it('should fail a send with EPLAINTEXT_AUTH, a provider fault, without connecting', async () => {
      const transport = new SmtpTransport(provider, 'secret-pw', sending, policy, false);
      const error = await transport
        .send({ from: 'a@example.com', to: ['b@example.com'], subject: 's', text: 't' } as never)
        .catch((e) => e);
      transport.close();
      expect(error).toBeInstanceOf(SendFailure);
      expect((error as SendFailure).failure).toMatchObject({ kind: 'provider', code: PLAINTEXT_AUTH_CODE });
      expect((error as SendFailure).message).not.toContain('secret-pw');
      expect(connections).toBe(0);
    });

    it('should call it unhealthy with EPLAINTEXT_AUTH without connecting', async () => {
      const outcome = await checkSmtp(provider, 'secret-pw', config(false), policy);
      expect(outcome).toMatchObject({ healthy: false, errorCode: PLAINTEXT_AUTH_CODE, smtpCode: null });
      expect(outcome.reply).toContain('in clear');
      expect(connections).toBe(0);
    });

    it('should connect when SMTP_ALLOW_PLAINTEXT_AUTH is on, or when it has no password', async () => {
      expect((await checkSmtp(provider, 'secret-pw', config(true), policy)).errorCode).not.toBe(PLAINTEXT_AUTH_CODE);
      expect(connections).toBe(1);
      expect((await checkSmtp({ ...provider, hasSmtpPassword: false }, null, config(false), policy)).errorCode).not.toBe(
        PLAINTEXT_AUTH_CODE,
      );
      expect(connections).toBe(2);
    });
  });
});
