import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { API, startApp, type TestApp } from './support/app.js';
import { baseDatabaseUrl, provisionDatabase, type TestDatabase } from './support/database.js';
import { fastSendingEnv, providerFor, waitForMessage, type MessageBody } from './support/sending.js';
import { TestSmtpServer } from './support/smtp-server.js';

/**
 * The batched pipeline (issue #12) against a real database and real SMTP servers: reservations
 * decided per provider in batches, outcomes written many per transaction, the sending order
 * kept in memory until providers change.
 */

const SERVER = baseDatabaseUrl() !== undefined;
const ENV = fastSendingEnv({ LOG_LEVEL: 'warn', SEND_WORKER_CONCURRENCY: '64', SEND_LEASE_SECONDS: '300' });

type Usage = { provider_id: number; period: string; reserved: number; sent: number };

describe('Batched delivery pipeline', () => {
  let db: TestDatabase;
  let t: TestApp;
  const sinks: TestSmtpServer[] = [];
  const extraApps: TestApp[] = [];
  const sink = async (opts: Parameters<typeof TestSmtpServer.start>[0] = {}) => {
    const s = await TestSmtpServer.start(opts);
    sinks.push(s);
    return s;
  };
  const ds = () => t.app.get(DataSource);
  const usage = async (providerId: number): Promise<Usage[]> =>
    ds().query(`SELECT provider_id, period, reserved, sent FROM provider_usage WHERE provider_id = $1 ORDER BY period`, [providerId]);
  const pendingReservations = async (): Promise<number> =>
    Number((await ds().query(`SELECT count(*) AS n FROM rate_limit_reservations WHERE committed_at IS NULL`))[0].n);
  const post = async (on: TestApp, i: number, extra: Record<string, unknown> = {}) =>
    (await request(on.server).post(`${API}/send/`).set(on.auth).send({ to: `rcpt${i}@example.com`, subject: `Pipeline ${i}`, text: `n ${i}`, ...extra }).expect(202))
      .body as MessageBody;

  beforeAll(async () => {
    db = await provisionDatabase();
    t = await startApp({ db, env: ENV });
  });
  afterEach(async () => {
    await Promise.all(extraApps.splice(0).map((a) => a.close()));
    await Promise.all(sinks.splice(0).map((s) => s.close()));
    // Each test starts without providers or messages.
    await ds().query(`TRUNCATE messages, send_attempts, provider_daily_stats, provider_failovers, rate_limit_reservations, provider_usage CASCADE`);
    await ds().query(`UPDATE providers SET deleted_at = now(), is_default = false WHERE deleted_at IS NULL`);
  });
  afterAll(async () => {
    await t.close();
    await db.drop();
  });

  it('should give back the reservation of a provider that failed before a failover', async () => {
    const down = await sink({ faults: { onConnect: 'refuse-421' } });
    const up = await sink();
    const first = await providerFor(t, down, { priority: 1 });
    const second = await providerFor(t, up, { priority: 2 });

    const m = await waitForMessage(t, (await post(t, 1)).id);
    expect(m).toMatchObject({ status: 'sent', provider_id: second.id });
    expect(m.attempts?.map((a) => [a.provider_id, a.outcome])).toEqual([
      [first.id, 'provider_failure'],
      [second.id, 'accepted'],
    ]);
    // The failed provider's send was never made: nothing of it stays counted or pending.
    expect(await usage(first.id)).toEqual([
      { provider_id: first.id, period: 'd', reserved: 0, sent: 0 },
      { provider_id: first.id, period: 'm', reserved: 0, sent: 0 },
    ]);
    expect(await usage(second.id)).toEqual([
      { provider_id: second.id, period: 'd', reserved: 1, sent: 1 },
      { provider_id: second.id, period: 'm', reserved: 1, sent: 1 },
    ]);
    expect(await pendingReservations()).toBe(0);
    expect(up.received).toHaveLength(1);
  });

  it('should follow a change to the providers made outside this instance at its next claim', async () => {
    const a = await sink();
    const b = await sink();
    const first = await providerFor(t, a, { priority: 1 });
    const second = await providerFor(t, b, { priority: 2 });
    expect(await waitForMessage(t, (await post(t, 1)).id)).toMatchObject({ status: 'sent', provider_id: first.id });

    // As another instance (or an operator in psql) would: no call into this one.
    await ds().query(`UPDATE providers SET is_active = false WHERE id = $1`, [first.id]);
    expect(await waitForMessage(t, (await post(t, 2)).id)).toMatchObject({ status: 'sent', provider_id: second.id });

    await ds().query(`UPDATE providers SET is_active = true WHERE id = $1`, [first.id]);
    await ds().query(`UPDATE providers SET smtp_port = $2, credentials_version = credentials_version + 1 WHERE id = $1`, [
      second.id,
      a.port,
    ]);
    expect(await waitForMessage(t, (await post(t, 3)).id)).toMatchObject({ status: 'sent', provider_id: first.id });
    const pinned = await waitForMessage(t, (await post(t, 4, { provider_id: second.id })).id);
    expect(pinned).toMatchObject({ status: 'sent', provider_id: second.id });
    // The pinned message went to the port the change gave the second provider.
    expect(a.received.map((r) => r.parsed.subject)).toEqual(['Pipeline 1', 'Pipeline 3', 'Pipeline 4']);
    expect(b.received.map((r) => r.parsed.subject)).toEqual(['Pipeline 2']);
  });

  it('should write each outcome, attempt and count exactly once when 300 messages go through together', async () => {
    const out = await sink();
    const provider = await providerFor(t, out);
    const accepted = await Promise.all(Array.from({ length: 300 }, (_, i) => post(t, i)));
    await out.waitForMessages(300, 30_000);
    await waitFor(async () => Number((await ds().query(`SELECT count(*) AS n FROM messages WHERE status = 'sent'`))[0].n) === 300);

    expect(new Set(out.received.map((r) => r.parsed.messageId)).size).toBe(300);
    expect(new Set(out.received.map((r) => r.parsed.messageId))).toEqual(new Set(accepted.map((m) => m.message_id)));
    const [attempts] = await ds().query(
      `SELECT count(*)::int AS n, count(DISTINCT message_id)::int AS messages FROM send_attempts WHERE outcome = 'accepted'`,
    );
    expect(attempts).toEqual({ n: 300, messages: 300 });
    const [stats] = await ds().query(`SELECT sum(attempts)::int AS attempts, sum(accepted)::int AS accepted FROM provider_daily_stats WHERE provider_id = $1`, [
      provider.id,
    ]);
    expect(stats).toEqual({ attempts: 300, accepted: 300 });
    expect(await usage(provider.id)).toEqual([
      { provider_id: provider.id, period: 'd', reserved: 300, sent: 300 },
      { provider_id: provider.id, period: 'm', reserved: 300, sent: 300 },
    ]);
    expect(await pendingReservations()).toBe(0);
    const [leases] = await ds().query(`SELECT count(*)::int AS n FROM messages WHERE lease_token IS NOT NULL OR lease_owner IS NOT NULL`);
    expect(leases.n).toBe(0);
  });

  it(
    SERVER
      ? 'should keep a per-minute limit exact while two instances reserve for one provider in batches'
      : 'should keep a per-minute limit exact while the instance reserves for one provider in batches',
    async () => {
      const out = await sink();
      const provider = await providerFor(t, out, { rate_limit_per_minute: 37 });
      const instances = [t];
      if (SERVER) {
        const second = await startApp({ db, env: { ...ENV, MESSAGE_ID_DOMAIN: 'second.test.local' } });
        extraApps.push(second);
        instances.push(second);
      }
      await Promise.all(Array.from({ length: 120 }, (_, i) => post(instances[i % instances.length], i)));
      await out.waitForMessages(37, 30_000);
      // The sent ones written, and the rest refused by the limit: back in the queue for after the window.
      await waitFor(async () => {
        const [row] = await ds().query(
          `SELECT count(*) FILTER (WHERE status = 'queued' AND last_error LIKE '%minute limit%')::int AS waiting,
                  count(*) FILTER (WHERE status = 'sent')::int AS sent FROM messages`,
        );
        return row.waiting === 120 - 37 && row.sent === 37;
      });
      expect(out.received).toHaveLength(37);
      expect(await usage(provider.id)).toEqual([
        { provider_id: provider.id, period: 'd', reserved: 37, sent: 37 },
        { provider_id: provider.id, period: 'm', reserved: 37, sent: 37 },
      ]);
      const [next] = await ds().query(`SELECT min(next_attempt_at) AS at FROM messages WHERE status = 'queued'`);
      const [firstSend] = await ds().query(`SELECT min(reserved_at) AS at FROM rate_limit_reservations WHERE provider_id = $1`, [provider.id]);
      expect(new Date(next.at).getTime()).toBeGreaterThanOrEqual(new Date(firstSend.at).getTime() + 60_000);
    },
  );
});

async function waitFor(done: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
