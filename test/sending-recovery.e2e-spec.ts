import { afterEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { API, startApp, type TestApp } from './support/app.js';
import { fastSendingEnv, providerFor, waitForMessage, type MessageBody } from './support/sending.js';
import { smtpServers, type TestSmtpServer } from './support/smtp-server.js';

/**
 * Outages and flaky providers (issue #9): recovery is found by probing, not by waiting out the
 * cool-down; a burst of failures in flight is one observation; a provider that keeps dropping the
 * connection after DATA cannot make one message go out again and again.
 */

/** Scheduled rounds never fire during a test (yearly), but recovery probes run. */
const PROBES_ON = { HEALTH_CHECKS_ENABLED: 'true', HEALTH_CHECK_CRON: '0 0 1 1 *' };

/** Every app here starts from the same settings (startApp leaves its own in process.env for the next). */
const env = (overrides: Record<string, string> = {}) =>
  fastSendingEnv({
    SEND_WORKERS_ENABLED: 'true',
    LOG_LEVEL: 'warn',
    HEALTH_CHECKS_ENABLED: 'false',
    HEALTH_FAILURE_THRESHOLD: '3',
    HEALTH_PROBE_INITIAL_SECONDS: '5',
    HEALTH_PROBE_COOLDOWN_SECONDS: '300',
    SEND_WORKER_CONCURRENCY: '8',
    SMTP_POOL_MAX_CONNECTIONS: '5',
    ...overrides,
  });

type Attempted = MessageBody & { attempt_count: number; attempts: { outcome: string; provider_id: number }[] };

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function providerRow(t: TestApp, id: number): Promise<{ health_status: string; consecutive_failures: number }> {
  const [row] = await t.app.get(DataSource).query(`SELECT health_status, consecutive_failures FROM providers WHERE id = $1`, [id]);
  return row as { health_status: string; consecutive_failures: number };
}

async function send(t: TestApp, i: number): Promise<MessageBody> {
  const res = await request(t.server)
    .post(`${API}/send/`)
    .set(t.auth)
    .send({ to: `rcpt${i}@example.com`, subject: `Recovery ${i}`, text: `message ${i}` });
  expect(res.status).toBe(202);
  return res.body as MessageBody;
}

describe('Provider outages and recovery', () => {
  const servers = smtpServers();
  let t: TestApp | null = null;

  afterEach(async () => {
    await t?.close();
    t = null;
    await servers.closeAll();
  });

  it('should deliver everything within 30 s of both providers coming back from a 20 s outage, once each', async () => {
    t = await startApp({ env: env(PROBES_ON) });
    const primary = await servers.start();
    const backup = await servers.start();
    await providerFor(t, primary, { priority: 1 });
    await providerFor(t, backup, { priority: 2 });
    await primary.goDown();
    await backup.goDown();

    const accepted = await Promise.all(Array.from({ length: 20 }, (_, i) => send(t as TestApp, i)));
    // Both found unhealthy (three rounds of refused connections), nothing delivered.
    await until(
      'both providers unhealthy',
      async () =>
        (
          (
            await request((t as TestApp).server)
              .get(`${API}/providers/health_status/`)
              .set((t as TestApp).auth)
          ).body as { health_status: string }[]
        )
          .map((p) => p.health_status)
          .every((s) => s === 'unhealthy'),
      15_000,
    );
    await new Promise((r) => setTimeout(r, 20_000));
    await primary.comeBack();
    await backup.comeBack();
    const recoveredAt = Date.now();

    const sent = await Promise.all(accepted.map((m) => waitForMessage(t as TestApp, m.id, (x) => x.status === 'sent', 30_000)));
    expect(Date.now() - recoveredAt).toBeLessThan(30_000);
    const delivered = [...primary.received, ...backup.received].map((m) => m.parsed.messageId);
    expect(delivered.sort()).toEqual(sent.map((m) => m.message_id).sort());
  });

  it('should move messages waiting for any provider forward as soon as a probe finds one back', async () => {
    t = await startApp({
      env: env({
        ...PROBES_ON,
        HEALTH_FAILURE_THRESHOLD: '1',
        HEALTH_PROBE_INITIAL_SECONDS: '1',
        // Without the wake-up the next round would be 48-72 s away.
        SEND_RETRY_BASE_SECONDS: '60',
        SEND_RETRY_MAX_SECONDS: '600',
      }),
    });
    const only = await servers.start();
    const provider = await providerFor(t, only);
    await only.goDown();
    const queued = await send(t, 1);
    const waiting = await waitForMessage(t, queued.id, (m) => m.status === 'queued' && m.last_error !== null);
    expect(new Date(waiting.next_attempt_at).getTime() - Date.now()).toBeGreaterThan(30_000);
    expect((await providerRow(t, provider.id)).health_status).toBe('unhealthy');

    await only.comeBack();
    const sent = await waitForMessage(t, queued.id, (m) => m.status === 'sent', 15_000);
    expect(sent.provider_id).toBe(provider.id);
    expect(only.received.map((m) => m.parsed.messageId)).toEqual([queued.message_id]);
    expect((await providerRow(t, provider.id)).health_status).toBe('healthy');
  });

  it('should count a burst of failures already in flight as one observation', async () => {
    t = await startApp({
      env: env({
        SMTP_POOL_MAX_CONNECTIONS: '8',
        SEND_RETRY_BASE_SECONDS: '60',
        SEND_RETRY_MAX_SECONDS: '600',
        SMTP_GREETING_TIMEOUT_MS: '2000',
      }),
    });
    // Accepts connections and never greets: eight attempts start together and fail together. The
    // eight are queued in one request (one commit), so one claim takes them all: eight single
    // POSTs could reach the worker over more than the greeting timeout on a loaded machine, and a
    // send that starts after the first failure was seen is rightly a second observation.
    const silent = await servers.start({ faults: { onConnect: 'never-greet' } });
    const provider = await providerFor(t, silent);
    const batch = await request(t.server)
      .post(`${API}/send/batch/`)
      .set(t.auth)
      .send({
        messages: Array.from({ length: 8 }, (_, i) => ({ to: `rcpt${i}@example.com`, subject: `Recovery ${i}`, text: `message ${i}` })),
      });
    expect(batch.status).toBe(200);
    expect(batch.body.accepted).toBe(8);
    const queued = (batch.body.results as { status: number; message: MessageBody }[]).map((r) => r.message);
    for (const m of queued) await waitForMessage(t, m.id, (x) => x.status === 'queued' && x.last_error !== null);

    expect(await providerRow(t, provider.id)).toEqual({ health_status: 'unknown', consecutive_failures: 1 });
  });

  it('should send a message at most SEND_MAX_UNCERTAIN_ATTEMPTS times through a provider that drops after DATA, then fail it and mark the provider unhealthy', async () => {
    t = await startApp({ env: env() });
    const dropping = await servers.start({ faults: { onData: 'disconnect-after-data' } });
    const good = await servers.start();
    const flaky = await providerFor(t, dropping, { priority: 1 });
    const backup = await providerFor(t, good, { priority: 2 });

    const first = await send(t, 1);
    const failed = (await waitForMessage(t, first.id, undefined, 20_000)) as Attempted;
    expect(failed).toMatchObject({ status: 'failed', outcome_uncertain: true, provider_id: flaky.id });
    expect(failed.last_error).toMatch(/^outcome unknown 3 times \(last through .*\); not sent again to avoid more copies/);
    expect(failed.attempts.map((a) => [a.provider_id, a.outcome])).toEqual(Array(3).fill([flaky.id, 'uncertain']));
    // Never failed over: three copies at the dropping server (it kept each one), none at the other.
    expect(dropping.received.map((m) => m.parsed.messageId)).toEqual(Array(3).fill(first.message_id));
    expect(good.received).toHaveLength(0);
    expect((await providerRow(t, flaky.id)).health_status).toBe('unhealthy');

    // The unhealthy provider is passed over: the next message goes to the backup at once.
    const second = await send(t, 2);
    const sent = (await waitForMessage(t, second.id)) as Attempted;
    expect(sent).toMatchObject({ status: 'sent', provider_id: backup.id });
    expect(sent.attempts.map((a) => a.provider_id)).toEqual([backup.id]);
    expect(dropping.received).toHaveLength(3);
  });
});
