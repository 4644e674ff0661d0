import { afterEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { API, startApp, type TestApp } from './support/app.js';
import type { TestDatabase } from './support/database.js';
import { fastSendingEnv, providerFor, waitForMessage, type MessageBody } from './support/sending.js';
import { smtpServers } from './support/smtp-server.js';
import { proxiedServerDatabase, TcpProxy } from './support/tcp-proxy.js';

/**
 * The database goes away while a message is on the wire, for longer than the lease: the provider
 * accepts the message, but its result cannot be written. The worker must keep its claim and
 * write the result once the database is back, not leave the message to be claimed and sent again.
 * Like the other database fault tests this needs a server (reached through a proxy the test
 * controls), so it runs against one in both CI modes.
 */
describe('Sending through a database outage', () => {
  const servers = smtpServers();
  let db: TestDatabase | null = null;
  let proxy: TcpProxy | null = null;
  let t: TestApp | null = null;

  afterEach(async () => {
    await proxy?.resume();
    await t?.close();
    await servers.closeAll();
    await proxy?.close();
    await db?.drop();
  });

  it('should write the result of a send accepted while the database was down, and send it only once', async () => {
    const proxied = await proxiedServerDatabase();
    ({ db, proxy } = proxied);
    const url = proxied.url;
    t = await startApp({
      db,
      env: fastSendingEnv({
        DATABASE_URL: url,
        DATABASE_CONNECT_TIMEOUT_MS: '1000',
        DATABASE_QUERY_TIMEOUT_MS: '1500',
        DATABASE_STATEMENT_TIMEOUT_MS: '1000',
        SEND_WORKERS_ENABLED: 'true',
        SEND_LEASE_SECONDS: '5',
        LOG_LEVEL: 'warn',
      }),
    });
    const sink = await servers.start({ onDataDelayMs: 1500 });
    await providerFor(t, sink);

    const res = await request(t.server).post(`${API}/send/`).set(t.auth).send({ to: 'alice@example.com', subject: 'Outage', text: 'x' });
    expect(res.status).toBe(202);
    const queued = res.body as MessageBody;
    await sink.waitForInFlight(1);
    await proxy.refuse();
    // The server accepts the message meanwhile; the database stays away for more than a lease.
    await sink.waitForMessages(1);
    await new Promise((r) => setTimeout(r, 8000));
    await proxy.resume();

    const sent = (await waitForMessage(t, queued.id, (m) => m.status === 'sent', 20_000)) as MessageBody & { attempt_count: number };
    expect(sent.attempt_count).toBe(1);
    // Time for a second claim to go out, had there been one.
    await new Promise((r) => setTimeout(r, 2000));
    expect(sink.received.map((m) => m.parsed.messageId)).toEqual([queued.message_id]);
  });
});
