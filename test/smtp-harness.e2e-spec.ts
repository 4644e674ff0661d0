import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import tls from 'node:tls';
import { PassThrough } from 'node:stream';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import type { ClassifiedFailure } from '../src/provider-types/send-failure.js';
import { classifySmtpFailure } from '../src/provider-types/smtp/smtp-failure.js';
import { AiosmtpdServer } from './support/aiosmtpd.js';
import { closedPort, TestSmtpServer, type TestSmtpServerOptions } from './support/smtp-server.js';
import { testCertificate } from './support/tls.js';

const AUTH = { user: 'sender@example.com', pass: 'correct horse battery staple' };
// Short waits keep the file fast; the greeting itself takes smtp-server 100 ms.
const TIMEOUTS = { connectionTimeout: 1_000, greetingTimeout: 500, socketTimeout: 800 };

type TransportOptions = {
  port: number;
  pool?: boolean;
  secure?: boolean;
  requireTLS?: boolean;
  ignoreTLS?: boolean;
  auth?: typeof AUTH;
  tls?: { ca: string };
};

function mail(overrides: Partial<SendMailOptions> = {}): SendMailOptions {
  return {
    messageId: `<${Math.random().toString(36).slice(2)}@harness.test>`,
    from: { name: 'Sender', address: 'sender@example.com' },
    to: [{ name: '', address: 'to@example.com' }],
    subject: 'Harness check',
    text: 'Plain body',
    html: '<p>HTML body</p>',
    attachments: [{ filename: 'report.csv', content: 'a,b\n1,2\n', contentType: 'text/csv' }],
    ...overrides,
  };
}

type Outcome =
  | { ok: true; info: { accepted: unknown[]; rejected: unknown[] }; messageWritten: boolean }
  | { ok: false; err: unknown; failure: ClassifiedFailure; messageWritten: boolean };

/**
 * Sends one message and tells whether nodemailer wrote all of it (through the final "."): it
 * reads the message stream only into DATA, so the stream ending is that moment. This is the
 * progress the classification needs to tell a drop before DATA from one after it.
 */
async function send(options: TransportOptions, message: SendMailOptions = mail()): Promise<Outcome> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    pool: true,
    tls: { ca: testCertificate().cert },
    ...TIMEOUTS,
    ...options,
  } as never);
  let messageWritten = false;
  transport.use(
    'stream',
    (sending: { message: { processFunc(f: (input: NodeJS.ReadableStream) => NodeJS.ReadableStream): void } }, done: () => void) => {
      sending.message.processFunc((input) => {
        const output = new PassThrough();
        output.once('end', () => (messageWritten = true));
        return input.pipe(output);
      });
      done();
    },
  );
  try {
    const info = (await transport.sendMail(message)) as { accepted: unknown[]; rejected: unknown[] };
    return { ok: true, info, messageWritten };
  } catch (err) {
    return { ok: false, err, failure: classifySmtpFailure(err, { messageWritten }), messageWritten };
  } finally {
    transport.close();
  }
}

async function failure(options: TransportOptions, message?: SendMailOptions): Promise<Outcome & { ok: false }> {
  const outcome = await send(options, message);
  if (outcome.ok) throw new Error('expected the send to fail');
  return outcome;
}

async function withServer<T>(options: TestSmtpServerOptions, run: (server: TestSmtpServer) => Promise<T>): Promise<T> {
  const server = await TestSmtpServer.start(options);
  try {
    return await run(server);
  } finally {
    await server.close();
  }
}

describe(TestSmtpServer.name, () => {
  describe('delivers and parses', () => {
    it.each([
      ['plain', {}, {}],
      ['STARTTLS + AUTH', { starttls: true, auth: AUTH, requireAuth: true }, { requireTLS: true, auth: AUTH }],
      ['implicit TLS + AUTH, unpooled', { secure: true, auth: AUTH, requireAuth: true }, { secure: true, auth: AUTH, pool: false }],
    ] as const)('should receive subject, text, attachment and Message-ID when sent %s', async (_case, serverOptions, clientOptions) => {
      await withServer(serverOptions, async (server) => {
        const message = mail();
        const outcome = await send({ port: server.port, ...clientOptions }, message);
        expect(outcome).toMatchObject({ ok: true, messageWritten: true });
        const [received] = await server.waitForMessages(1, 2_000);
        expect(received.envelope).toEqual({ from: 'sender@example.com', to: ['to@example.com'] });
        expect(received.user).toBe('auth' in clientOptions ? AUTH.user : null);
        expect(received.secure).toBe(_case !== 'plain');
        expect(received.parsed.messageId).toBe(message.messageId);
        expect(received.parsed.subject).toBe('Harness check');
        expect(received.parsed.text?.trim()).toBe('Plain body');
        expect(received.parsed.html).toBe('<p>HTML body</p>');
        expect(received.parsed.attachments).toHaveLength(1);
        expect(received.parsed.attachments[0]).toMatchObject({ filename: 'report.csv', contentType: 'text/csv' });
        expect(received.parsed.attachments[0].content.toString()).toBe('a,b\n1,2\n');
      });
    });

    it('should succeed with the refused recipient listed when one of two RCPTs gets 550', async () => {
      await withServer(
        { faults: { onRcpt: (a) => (a.startsWith('bad') ? { code: 550, message: 'No such user' } : undefined) } },
        async (server) => {
          const to = [
            { name: '', address: 'good@example.com' },
            { name: '', address: 'bad@example.com' },
          ];
          const outcome = await send({ port: server.port }, mail({ to }));
          expect(outcome).toMatchObject({ ok: true, info: { accepted: ['good@example.com'], rejected: ['bad@example.com'] } });
          expect((await server.waitForMessages(1)).map((m) => m.envelope.to)).toEqual([['good@example.com']]);
        },
      );
    });
  });

  describe('classifies every fault as the rules say', () => {
    it('should be provider (ESOCKET) when nothing listens on the port', async () => {
      const { failure: f } = await failure({ port: await closedPort() });
      expect(f).toMatchObject({ kind: 'provider', code: 'ESOCKET', command: 'CONN' });
    });

    it('should be provider with the asked wait when the greeting is 421', async () => {
      await withServer({ faults: { onConnect: 'refuse-421' } }, async (server) => {
        const { failure: f } = await failure({ port: server.port });
        expect(f).toMatchObject({ kind: 'provider', code: 'EPROTOCOL', responseCode: 421, retryAfterSeconds: 30 });
      });
    });

    it('should be provider (ETIMEDOUT) when the server accepts TCP but never greets', async () => {
      await withServer({ faults: { onConnect: 'never-greet' } }, async (server) => {
        const { failure: f } = await failure({ port: server.port });
        expect(f).toMatchObject({ kind: 'provider', code: 'ETIMEDOUT', reply: 'Greeting never received' });
      });
    });

    it('should be provider (EAUTH 535) when AUTH fails', async () => {
      await withServer({ auth: AUTH, requireAuth: true, faults: { onAuth: 'fail-535' } }, async (server) => {
        const { failure: f } = await failure({ port: server.port, auth: AUTH });
        expect(f).toMatchObject({ kind: 'provider', code: 'EAUTH', responseCode: 535, command: 'AUTH PLAIN' });
        expect(f.reply).not.toContain(AUTH.pass);
      });
    });

    it.each([
      [450, 'provider'],
      [550, 'message'],
    ] as const)('should classify %i to every RCPT as %s', async (code, kind) => {
      await withServer({ faults: { onRcpt: () => ({ code, message: 'Mailbox unavailable' }) } }, async (server) => {
        const { failure: f } = await failure({ port: server.port });
        expect(f).toMatchObject({ kind, code: 'EENVELOPE', responseCode: code, command: 'RCPT TO' });
        expect(server.received).toHaveLength(0);
      });
    });

    it.each([550, 451])('should be provider when MAIL FROM gets %i', async (code) => {
      await withServer({ faults: { onMailFrom: { code, message: 'Sender refused' } } }, async (server) => {
        const { failure: f } = await failure({ port: server.port });
        expect(f).toMatchObject({ kind: 'provider', code: 'EENVELOPE', responseCode: code, command: 'MAIL FROM' });
      });
    });

    it.each([
      ['reject-550', 'message', 550, null],
      ['tempfail-451', 'provider', 451, 300],
    ] as const)('should classify DATA %s as %s', async (fault, kind, responseCode, retryAfterSeconds) => {
      await withServer({ faults: { onData: fault } }, async (server) => {
        const { failure: f } = await failure({ port: server.port });
        expect(f).toMatchObject({ kind, code: 'EMESSAGE', responseCode, command: 'DATA', retryAfterSeconds });
        expect(server.received).toHaveLength(0);
      });
    });

    it.each([
      ['disconnect-after-data', 'ECONNECTION'],
      ['hang-after-data', 'ETIMEDOUT'],
    ] as const)('should be uncertain on %s, with or without the progress hint, and the server has the message', async (fault, code) => {
      await withServer({ faults: { onData: fault } }, async (server) => {
        const outcome = await failure({ port: server.port });
        expect(outcome.messageWritten).toBe(true);
        expect(outcome.failure).toMatchObject({ kind: 'uncertain', code, command: 'CONN', responseCode: null });
        expect(classifySmtpFailure(outcome.err).kind).toBe('uncertain');
        expect(server.received.map((m) => m.unacknowledged)).toEqual([fault]);
      });
    });

    it.each([
      ['disconnect', 'ECONNECTION'],
      ['hang', 'ETIMEDOUT'],
    ] as const)('should be provider when the connection is lost (%s) before DATA, given the progress hint', async (fault, code) => {
      await withServer({ faults: { onMailFrom: fault } }, async (server) => {
        const outcome = await failure({ port: server.port });
        expect(outcome.messageWritten).toBe(false);
        expect(outcome.failure).toMatchObject({ kind: 'provider', code, command: 'CONN' });
        // The error alone is the same as after DATA: without the hint it must stay uncertain.
        expect(classifySmtpFailure(outcome.err).kind).toBe('uncertain');
      });
    });

    it('should be provider (ETLS) when STARTTLS is required but the server does not offer it', async () => {
      await withServer({}, async (server) => {
        const { failure: f } = await failure({ port: server.port, requireTLS: true });
        expect(f).toMatchObject({ kind: 'provider', code: 'ETLS', command: 'STARTTLS' });
      });
    });

    it('should be provider (ESOCKET) when implicit TLS meets a plain server', async () => {
      await withServer({}, async (server) => {
        const { failure: f } = await failure({ port: server.port, secure: true });
        expect(f).toMatchObject({ kind: 'provider', code: 'ESOCKET', command: 'CONN' });
      });
    });

    it.each([
      ['STARTTLS', { starttls: true }, { requireTLS: true }],
      ['implicit TLS', { secure: true }, { secure: true }],
    ] as const)(
      'should be provider (ESOCKET) when the certificate is not signed by the trusted CA (%s)',
      async (_case, serverOptions, clientOptions) => {
        await withServer(serverOptions, async (server) => {
          const { failure: f } = await failure({ port: server.port, ...clientOptions, tls: { ca: tls.rootCertificates[0] } });
          expect(f).toMatchObject({ kind: 'provider', code: 'ESOCKET', command: 'CONN' });
        });
      },
    );
  });
});

describe(AiosmtpdServer.name, () => {
  let server: AiosmtpdServer;
  beforeAll(async () => {
    server = await AiosmtpdServer.start(AUTH);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('should receive and parse a message sent with STARTTLS and AUTH', async () => {
    const message = mail();
    const outcome = await send({ port: server.port, requireTLS: true, auth: AUTH }, message);
    expect(outcome.ok).toBe(true);
    const received = (await server.received()).find((m) => m.parsed.messageId === message.messageId);
    expect(received).toBeDefined();
    expect(received!.envelope).toEqual({ from: 'sender@example.com', to: ['to@example.com'] });
    expect(received!.user).toBe(AUTH.user);
    expect(received!.parsed.subject).toBe('Harness check');
    expect(received!.parsed.text?.trim()).toBe('Plain body');
    expect(received!.parsed.attachments.map((a) => [a.filename, a.content.toString()])).toEqual([['report.csv', 'a,b\n1,2\n']]);
  });

  it('should refuse a client that skips STARTTLS (provider, 530)', async () => {
    const { failure: f } = await failure({ port: server.port, ignoreTLS: true });
    expect(f).toMatchObject({ kind: 'provider', responseCode: 530, command: 'MAIL FROM' });
  });

  it('should be provider (EAUTH) when the password is wrong', async () => {
    const { failure: f } = await failure({ port: server.port, requireTLS: true, auth: { ...AUTH, pass: 'wrong' } });
    expect(f).toMatchObject({ kind: 'provider', code: 'EAUTH', responseCode: 535 });
    expect(f.reply).not.toContain('wrong');
  });
});
