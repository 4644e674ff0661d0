import { afterEach, describe, expect, it } from '@jest/globals';
import net from 'node:net';
import { TestSmtpServer } from '../../../test/support/smtp-server.js';
import { testCertificate } from '../../../test/support/tls.js';
import type { SendingConfig } from '../../config/app-config.js';
import { OutboundPolicy, parseOutboundAllow, type LookupAll } from '../../outbound/outbound-policy.js';
import type { SendingProvider } from '../../providers/sending-provider.js';
import type { OutgoingMail } from '../mail-transport.js';
import { SendFailure } from '../send-failure.js';
import { SmtpTransport } from './smtp.transport.js';

/**
 * The SMTP transport against real servers on loopback, with a resolver the test controls: the way
 * to make a name change its address between two sends (DNS rebinding) without a DNS server.
 */

const config = (extraCaFile?: string, resolveCacheMs = 0): SendingConfig =>
  ({
    messageIdDomain: 'mail.test.local',
    smtp: { connectionTimeoutMs: 2_000, greetingTimeoutMs: 2_000, socketTimeoutMs: 2_000, maxConnections: 2, extraCaFile, resolveCacheMs },
  }) as SendingConfig;

const provider = (host: string, port: number, overrides: Partial<SendingProvider> = {}): SendingProvider =>
  ({
    id: 1,
    name: 'relay',
    providerType: 'smtp',
    smtpHost: host,
    smtpPort: port,
    smtpUsername: null,
    hasSmtpPassword: false,
    smtpUseTls: false,
    smtpUseSsl: false,
    ...overrides,
  }) as SendingProvider;

let sequence = 0;
const mail = (): OutgoingMail => ({
  messageId: `<m${++sequence}@mail.test.local>`,
  from: { name: '', address: 'sender@example.com' },
  replyTo: null,
  to: ['alice@example.com'],
  cc: [],
  bcc: [],
  subject: `Message ${sequence}`,
  text: 'Hello',
  html: null,
  headers: {},
  attachments: [],
});

/** A resolver that answers each lookup of a name with the next answer in its list (the last one repeats). */
function changingDns(answers: (string[] | 'ENOTFOUND')[]): LookupAll & { calls: number } {
  const lookup = Object.assign(
    async () => {
      const answer = answers[Math.min(lookup.calls, answers.length - 1)];
      lookup.calls += 1;
      if (answer === 'ENOTFOUND') throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
      return answer.map((address) => ({ address, family: 4 }));
    },
    { calls: 0 },
  );
  return lookup;
}

async function failure(promise: Promise<unknown>): Promise<SendFailure> {
  const err = await promise.then(
    () => new Error('expected the send to fail'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SendFailure);
  return err as SendFailure;
}

/** Counts connections on 127.0.0.1 at the allowed server's port: where a connection to the denied address would land. */
async function deniedListener(port: number): Promise<{ connections: number; close(): Promise<void> } | null> {
  const state = { connections: 0 };
  const server = net.createServer((s) => {
    state.connections += 1;
    s.destroy();
  });
  const ok = await new Promise<boolean>((resolve) =>
    server.once('error', () => resolve(false)).listen(port, '127.0.0.1', () => resolve(true)),
  );
  if (!ok) return null;
  return Object.assign(state, { close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
}

describe(SmtpTransport.name, () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function allowedServer(options: Parameters<typeof TestSmtpServer.start>[0] = {}) {
    for (let i = 0; ; i++) {
      const server = await TestSmtpServer.start({ host: '127.0.0.2', ...options });
      const denied = await deniedListener(server.port);
      if (denied) {
        cleanup.push(
          () => server.close(),
          () => denied.close(),
        );
        return { server, denied };
      }
      await server.close();
      if (i > 20) throw new Error('no port free on both 127.0.0.2 and 127.0.0.1');
    }
  }

  it('should resolve before each send and refuse, without connecting, once the name resolves to a denied address', async () => {
    const { server, denied } = await allowedServer();
    const lookup = changingDns([['127.0.0.2'], ['127.0.0.1'], ['127.0.0.2', '127.0.0.1'], ['127.0.0.2']]);
    const policy = new OutboundPolicy(parseOutboundAllow('127.0.0.2'), { lookup });
    const transport = new SmtpTransport(provider('relay.test', server.port), null, config(), policy, false);
    cleanup.push(() => transport.close());

    await transport.send(mail());
    expect(server.received).toHaveLength(1);

    // Rebound to loopback: refused as the provider's failure, before any connection.
    const rebound = await failure(transport.send(mail()));
    expect(rebound.failure).toMatchObject({ kind: 'provider', code: 'EOUTBOUND_DENIED', command: 'CONN', responseCode: null });
    expect(rebound.failure.reply).toMatch(/^Connections to this host are not allowed: it resolves to a loopback address/);
    // One denied address among allowed ones is enough to refuse.
    expect((await failure(transport.send(mail()))).failure.code).toBe('EOUTBOUND_DENIED');

    await transport.send(mail());
    expect(server.received).toHaveLength(2);
    expect(lookup.calls).toBe(4);
    expect(denied.connections).toBe(0);
  });

  it('should reuse the checked address for sends within SMTP_RESOLVE_CACHE_SECONDS of the last lookup, then look again', async () => {
    const { server, denied } = await allowedServer();
    const lookup = changingDns([['127.0.0.2'], ['127.0.0.1']]);
    const policy = new OutboundPolicy(parseOutboundAllow('127.0.0.2'), { lookup });
    const cached = new SmtpTransport(provider('relay.test', server.port), null, config(undefined, 60_000), policy, false);
    cleanup.push(() => cached.close());

    await Promise.all([cached.send(mail()), cached.send(mail())]);
    await cached.send(mail());
    // One lookup for three sends; the name now points at a denied address, not yet looked up.
    expect(lookup.calls).toBe(1);
    expect(server.received).toHaveLength(3);

    const fresh = new SmtpTransport(provider('relay.test', server.port), null, config(undefined, 0), policy, false);
    cleanup.push(() => fresh.close());
    expect((await failure(fresh.send(mail()))).failure.code).toBe('EOUTBOUND_DENIED');
    expect(lookup.calls).toBe(2);
    expect(denied.connections).toBe(0);
  });

  it('should open later pooled connections to the checked address, never resolving the name again itself', async () => {
    const { server } = await allowedServer();
    // `relay.test` exists only for this resolver: nodemailer, looking the name up itself, would fail (EDNS).
    const policy = new OutboundPolicy(parseOutboundAllow('127.0.0.2'), { lookup: changingDns([['127.0.0.2']]) });
    const transport = new SmtpTransport(provider('relay.test', server.port), null, config(), policy, false);
    cleanup.push(() => transport.close());

    await transport.send(mail());
    // The server drops the pool's connection: the next send needs a new one.
    await server.goDown();
    await server.comeBack();
    await transport.send(mail());
    expect(server.received.map((m) => m.parsed.subject)).toEqual([`Message ${sequence - 1}`, `Message ${sequence}`]);
  });

  it('should keep the checked address while the name cannot be resolved, and refuse without one', async () => {
    const { server } = await allowedServer();
    const policy = new OutboundPolicy(parseOutboundAllow('127.0.0.2'), { lookup: changingDns([['127.0.0.2'], 'ENOTFOUND']) });
    const transport = new SmtpTransport(provider('relay.test', server.port), null, config(), policy, false);
    cleanup.push(() => transport.close());
    await transport.send(mail());
    await transport.send(mail());
    expect(server.received).toHaveLength(2);

    const fresh = new SmtpTransport(
      provider('relay.test', server.port),
      null,
      config(),
      new OutboundPolicy(parseOutboundAllow('127.0.0.2'), { lookup: changingDns(['ENOTFOUND']) }),
      false,
    );
    cleanup.push(() => fresh.close());
    expect((await failure(fresh.send(mail()))).failure).toMatchObject({ kind: 'provider', code: 'EDNS' });
  });

  it('should verify the certificate against the host name while connecting to its checked address', async () => {
    // The test certificate names IP 127.0.0.1 and DNS localhost.
    const server = await TestSmtpServer.start({ host: '127.0.0.1', secure: true });
    cleanup.push(() => server.close());
    const policy = new OutboundPolicy(parseOutboundAllow('127.0.0.1'), {
      lookup: async (host) => (host === 'localhost' || host === 'mail.test.example' ? [{ address: '127.0.0.1', family: 4 }] : []),
    });
    const send = async (host: string) => {
      const transport = new SmtpTransport(
        provider(host, server.port, { smtpUseSsl: true }),
        null,
        config(testCertificate().caFile),
        policy,
        false,
      );
      cleanup.push(() => transport.close());
      return transport.send(mail());
    };
    await send('localhost');
    await send('127.0.0.1');
    expect(server.received).toHaveLength(2);
    // Same address, a name the certificate does not carry: verified against the name, so refused.
    const wrongName = await failure(send('mail.test.example'));
    expect(wrongName.failure.reply).toMatch(/altnames|does not match/i);
    expect(server.received).toHaveLength(2);
  });
});
