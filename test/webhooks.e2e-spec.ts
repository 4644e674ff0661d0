import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { RetentionService } from '../src/retention/retention.service.js';
import { API, startApp, type TestApp } from './support/app.js';
import { deactivateAllProviders, fastSendingEnv, providerFor, waitForMessage } from './support/sending.js';
import { closedPort, smtpServers } from './support/smtp-server.js';
import { WebhookReceiver, type ReceivedEvent } from './support/webhook-receiver.js';

/** Polls `read` until `done` holds of its value (the outcome of a delivery is written after the receiver answered). */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Retries a fraction of a second apart, so a test sees a delivery retried, recovered or given up. */
const FAST_WEBHOOKS = { WEBHOOK_POLL_INTERVAL_MS: '50', WEBHOOK_RETRY_DELAYS: '0.3,0.3,0.3', WEBHOOK_TIMEOUT_SECONDS: '2' };

describe('Webhooks: signed delivery events from the outbox (real receiver, real SMTP on loopback)', () => {
  let t: TestApp;
  let ds: DataSource;
  let receiver: WebhookReceiver;
  const servers = smtpServers();
  const created: number[] = [];

  const createWebhook = async (body: Record<string, unknown>) => {
    const res = await request(t.server)
      .post(`${API}/webhooks/`)
      .set(t.auth)
      .send({ url: receiver.url, events: ['*'], ...body });
    expect(res.status).toBe(201);
    created.push(res.body.id);
    return res.body as { id: number; secret: string; url: string };
  };
  const send = (body: Record<string, unknown> = {}) =>
    request(t.server)
      .post(`${API}/send/`)
      .set(t.auth)
      .send({ to: 'alice@example.com', subject: 'Hello', text: 'Body text', ...body });
  const ofMessage = (id: number, type: string) => (r: ReceivedEvent[]) =>
    r.some((e) => e.event.type === type && (e.event.data as { id?: unknown }).id === id && e.answered === 200);

  beforeAll(async () => {
    t = await startApp({ env: fastSendingEnv(FAST_WEBHOOKS) });
    ds = t.app.get(DataSource);
  });
  beforeEach(async () => {
    receiver = await WebhookReceiver.start();
    await deactivateAllProviders(t);
  });
  afterEach(async () => {
    // Each test's endpoints go, so the next test's receiver sees only its own events.
    for (const id of created.splice(0)) await request(t.server).delete(`${API}/webhooks/${id}/`).set(t.auth);
    await receiver.close();
    await servers.closeAll();
  });
  afterAll(async () => {
    await t.close();
  });

  describe('endpoints', () => {
    it('should create an endpoint with a secret shown once, stored encrypted, and never in a read or a log line', async () => {
      const hook = await createWebhook({ events: ['email.sent', 'email.failed'], description: 'CRM' });
      expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
      const bytes = Buffer.from(hook.secret.slice('whsec_'.length), 'base64').length;
      expect(bytes).toBeGreaterThanOrEqual(24);
      expect(bytes).toBeLessThanOrEqual(64);
      const [row] = await ds.query(`SELECT secret_encrypted FROM webhooks WHERE id = $1`, [hook.id]);
      expect(row.secret_encrypted).not.toContain(hook.secret.slice(6));

      const one = await request(t.server).get(`${API}/webhooks/${hook.id}`).set(t.auth).expect(200);
      expect(one.body).toMatchObject({
        id: hook.id,
        url: receiver.url,
        description: 'CRM',
        events: ['email.sent', 'email.failed'],
        is_active: true,
        disabled_reason: null,
        deliveries: { pending: 0, delivering: 0, delivered: 0, failed: 0 },
      });
      expect(one.body).not.toHaveProperty('secret');
      const list = await request(t.server).get(`${API}/webhooks/`).set(t.auth).expect(200);
      expect(list.body.map((w: { id: number }) => w.id)).toContain(hook.id);
      expect(JSON.stringify(list.body)).not.toContain(hook.secret);
      expect(t.logs.text()).not.toContain(hook.secret.slice(6));
    });

    it('should change, and delete an endpoint with its deliveries; 404 for one that does not exist', async () => {
      const hook = await createWebhook({});
      const patched = await request(t.server)
        .patch(`${API}/webhooks/${hook.id}/`)
        .set(t.auth)
        .send({ events: ['provider.failover'], is_active: false })
        .expect(200);
      expect(patched.body).toMatchObject({ events: ['provider.failover'], is_active: false });
      await request(t.server).delete(`${API}/webhooks/${hook.id}/`).set(t.auth).expect(204);
      await request(t.server).get(`${API}/webhooks/${hook.id}/`).set(t.auth).expect(404, { detail: 'Not found.' });
      await request(t.server).delete(`${API}/webhooks/${hook.id}`).set(t.auth).expect(404);
      await request(t.server).post(`${API}/webhooks/999999/test/`).set(t.auth).expect(404);
    });

    it('should refuse bad input field by field, changing nothing', async () => {
      const before = (await ds.query(`SELECT count(*)::int AS n FROM webhooks`))[0].n;
      const bad = async (body: Record<string, unknown>, expected: Record<string, string[]>) => {
        const res = await request(t.server).post(`${API}/webhooks/`).set(t.auth).send(body);
        expect(res.status).toBe(400);
        expect(res.body).toEqual(expected);
      };
      await bad({}, { url: ['This field is required.'], events: ['This field is required.'] });
      await bad({ url: 'ftp://example.com/x', events: ['*'] }, { url: ['Enter a valid URL.'] });
      await bad({ url: 'not a url', events: ['*'] }, { url: ['Enter a valid URL.'] });
      await bad(
        { url: 'https://user:pw@hooks.example.com/x', events: ['*'] },
        { url: ['The URL may not carry a user name or password: put a token in the path instead.'] },
      );
      await bad({ url: receiver.url, events: ['email.opened'] }, { events: ['"email.opened" is not a valid choice.'] });
      await bad({ url: receiver.url, events: [] }, { events: ['This list may not be empty.'] });
      await bad({ url: receiver.url, events: 'email.sent' }, { events: ['Expected a list of items but got type "str".'] });
      // The outbound host policy, at save: a private address is not on the test's OUTBOUND_ALLOW.
      const refused = await request(t.server)
        .post(`${API}/webhooks/`)
        .set(t.auth)
        .send({ url: 'http://10.1.2.3/hook', events: ['*'] });
      expect(refused.status).toBe(400);
      expect(refused.body.url[0]).toMatch(/^Connections to this host are not allowed: it is a private network address/);
      const metadata = await request(t.server)
        .post(`${API}/webhooks/`)
        .set(t.auth)
        .send({ url: 'http://169.254.169.254/', events: ['*'] });
      expect(metadata.status).toBe(400);
      expect((await ds.query(`SELECT count(*)::int AS n FROM webhooks`))[0].n).toBe(before);
    });

    it('should need the webhooks scope', async () => {
      const key = async (scopes: string[]) =>
        (
          await request(t.server)
            .post(`${API}/api-keys/`)
            .set(t.auth)
            .send({ name: `k-${scopes.join('-')}`, scopes })
            .expect(201)
        ).body.key as string;
      const sender = await key(['send', 'providers:write']);
      const hooks = await key(['webhooks']);
      await request(t.server).get(`${API}/webhooks/`).expect(401);
      await request(t.server).get(`${API}/webhooks/`).set('Authorization', `Bearer ${sender}`).expect(403);
      await request(t.server).get(`${API}/webhooks/`).set('Authorization', `Bearer ${hooks}`).expect(200);
    });
  });

  describe('events', () => {
    it('should deliver email.sent signed by the Standard Webhooks scheme, with the message, recipients, provider and reply, and no body', async () => {
      const hook = await createWebhook({ events: ['email.sent'] });
      const sink = await servers.start();
      const p = await providerFor(t, sink);
      const res = await send({ cc: ['carol@example.com'], html: '<p>secret html</p>' }).expect(202);
      await receiver.waitFor(ofMessage(res.body.id, 'email.sent'));
      const [got] = receiver.delivered('email.sent');
      const verified = WebhookReceiver.verify(got, hook.secret) as ReceivedEvent['event'];
      expect(verified.type).toBe('email.sent');
      expect(got.id).toMatch(/^evt_[0-9a-f-]{36}$/);
      expect(Math.abs(Number(got.timestamp) - Date.now() / 1000)).toBeLessThan(60);
      expect(got.event.timestamp).toMatch(/Z$/);
      expect(got.event.data).toMatchObject({
        id: res.body.id,
        message_id: res.body.message_id,
        to: ['alice@example.com'],
        cc: ['carol@example.com'],
        provider: { id: p.id, name: p.name, provider_type: 'smtp' },
        reply: { outcome: 'accepted', smtp_code: null, smtp_reply: expect.stringMatching(/^250/) },
      });
      expect(got.body).not.toContain('Body text');
      expect(got.body).not.toContain('secret html');
      // Another secret does not verify it.
      expect(() => WebhookReceiver.verify(got, 'whsec_' + Buffer.alloc(32, 7).toString('base64'))).toThrow();
      const deliveries = await eventually(
        () => request(t.server).get(`${API}/webhooks/${hook.id}/deliveries/`).set(t.auth).expect(200),
        (res) => res.body.results[0]?.status === 'delivered',
      );
      expect(deliveries.body).toMatchObject({ count: 1, next: null, previous: null });
      expect(deliveries.body.results[0]).toMatchObject({
        event_id: got.id,
        event: 'email.sent',
        status: 'delivered',
        attempts: 1,
        last_status_code: 200,
        last_error: null,
        next_retry_at: null,
      });
    });

    it('should raise email.deferred for a failed attempt that will be retried, then email.sent; email.failed for a refusal', async () => {
      await createWebhook({ events: ['email.deferred', 'email.sent', 'email.failed'] });
      const sink = await servers.start({ faults: { onData: 'tempfail-451' } });
      await providerFor(t, sink);
      const retried = await send().expect(202);
      await receiver.waitFor(ofMessage(retried.body.id, 'email.deferred'));
      sink.setFaults({});
      await receiver.waitFor(ofMessage(retried.body.id, 'email.sent'));
      const deferred = receiver.delivered('email.deferred').find((e) => e.event.data.id === retried.body.id) as ReceivedEvent;
      expect(deferred.event.data).toMatchObject({
        reply: { outcome: 'provider_failure', smtp_code: 451 },
        error: expect.stringContaining('451'),
      });
      expect(deferred.event.data.next_attempt_at).toEqual(expect.any(String));

      sink.setFaults({ onData: 'reject-550' });
      const refused = await send().expect(202);
      await receiver.waitFor(ofMessage(refused.body.id, 'email.failed'));
      const failed = receiver.delivered('email.failed').find((e) => e.event.data.id === refused.body.id) as ReceivedEvent;
      expect(failed.event.data).toMatchObject({
        reply: { outcome: 'message_rejected', smtp_code: 550 },
        error: expect.stringContaining('550'),
      });
      // Only the types subscribed to: no provider events reached this endpoint.
      expect(receiver.received.every((e) => e.event.type.startsWith('email.'))).toBe(true);
    });

    it('should raise provider.failover, provider.unhealthy and provider.recovered', async () => {
      await createWebhook({ events: ['provider.failover', 'provider.unhealthy', 'provider.recovered'] });
      const down = await providerFor(t, { host: '127.0.0.1', port: await closedPort() }, { priority: 1 });
      const sink = await servers.start();
      const up = await providerFor(t, sink, { priority: 2 });
      const res = await send().expect(202);
      expect(await waitForMessage(t, res.body.id)).toMatchObject({ status: 'sent', provider_id: up.id });
      await receiver.waitFor((r) => r.some((e) => e.event.type === 'provider.failover'));
      const failover = receiver.delivered('provider.failover')[0];
      expect(failover.event.data).toMatchObject({
        from_provider: { id: down.id, name: down.name },
        to_provider: { id: up.id, name: up.name },
        message: { id: res.body.id, message_id: res.body.message_id },
      });

      // A live check of the dead one turns it unhealthy; pointing it at a live server and checking again, healthy.
      await request(t.server).post(`${API}/providers/${down.id}/health_check/`).set(t.auth);
      await receiver.waitFor((r) =>
        r.some((e) => e.event.type === 'provider.unhealthy' && (e.event.data.provider as { id: number }).id === down.id),
      );
      expect(receiver.delivered('provider.unhealthy')[0].event.data).toMatchObject({
        provider: { id: down.id, name: down.name, provider_type: 'smtp' },
        health_status: 'unhealthy',
        last_error: expect.any(String),
      });
      await request(t.server).post(`${API}/providers/${down.id}/health_check/`).set(t.auth);
      await new Promise((r) => setTimeout(r, 300));
      expect(receiver.delivered('provider.unhealthy')).toHaveLength(1); // still unhealthy: no second transition
      await ds.query(`UPDATE providers SET smtp_port = $2 WHERE id = $1`, [down.id, sink.port]);
      await request(t.server).post(`${API}/providers/${down.id}/health_check/`).set(t.auth).expect(200);
      await receiver.waitFor((r) => r.some((e) => e.event.type === 'provider.recovered'));
      expect(receiver.delivered('provider.recovered')[0].event.data).toMatchObject({
        provider: { id: down.id },
        health_status: 'healthy',
        previous_health_status: 'unhealthy',
      });
    });

    it('should raise no event when the state change that causes it is rolled back', async () => {
      await createWebhook({ events: ['email.sent'] });
      const sink = await servers.start();
      await providerFor(t, sink);
      // The final write of this one message fails inside PostgreSQL, after the attempt succeeded.
      await ds.query(`CREATE FUNCTION test_refuse_sent() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.status = 'sent' AND NEW.subject = 'roll me back' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$`);
      await ds.query(`CREATE TRIGGER test_refuse_sent BEFORE UPDATE ON messages FOR EACH ROW EXECUTE FUNCTION test_refuse_sent()`);
      try {
        const doomed = await send({ subject: 'roll me back' }).expect(202);
        const fine = await send({ subject: 'fine' }).expect(202);
        await receiver.waitFor(ofMessage(fine.body.id, 'email.sent'));
        await sink.waitForMessages(2);
        // The doomed message went out, but its write (and the event with it) was rolled back.
        await new Promise((r) => setTimeout(r, 500));
        const events = await ds.query(
          `SELECT (data->>'id')::int AS id FROM webhook_events WHERE type = 'email.sent' AND (data->>'id')::int = ANY($1)`,
          [[doomed.body.id, fine.body.id]],
        );
        expect(events.map((e: { id: number }) => e.id)).toEqual([fine.body.id]);
        expect(receiver.received.filter((e) => e.event.data.id === doomed.body.id)).toEqual([]);
        expect((await request(t.server).get(`${API}/messages/${doomed.body.id}/`).set(t.auth)).body.status).toBe('sending');
      } finally {
        await ds.query(`DROP TRIGGER test_refuse_sent ON messages`);
        await ds.query(`DROP FUNCTION test_refuse_sent()`);
        await ds.query(`UPDATE messages SET status = 'failed', lease_token = NULL WHERE status = 'sending'`);
      }
    });

    it('should write no event while no endpoint is active', async () => {
      const hook = await createWebhook({ is_active: false });
      const sink = await servers.start();
      await providerFor(t, sink);
      const before = (await ds.query(`SELECT count(*)::int AS n FROM webhook_events`))[0].n;
      const res = await send().expect(202);
      await waitForMessage(t, res.body.id);
      expect((await ds.query(`SELECT count(*)::int AS n FROM webhook_events`))[0].n).toBe(before);
      expect(receiver.received).toEqual([]);
      expect((await request(t.server).get(`${API}/webhooks/${hook.id}/`).set(t.auth)).body.deliveries.pending).toBe(0);
    });
  });

  describe('delivery', () => {
    it('should retry while the receiver is down and deliver each event once when it is back', async () => {
      await createWebhook({ events: ['email.sent'] });
      const sink = await servers.start();
      await providerFor(t, sink);
      receiver.answerWith(503);
      const ids: number[] = [];
      for (let i = 0; i < 3; i++) ids.push((await send({ subject: `m${i}` }).expect(202)).body.id as number);
      await receiver.waitFor((r) => new Set(r.map((e) => e.id)).size === 3 && r.length >= 4);
      receiver.answerWith(200);
      await receiver.waitFor((r) => ids.every((id) => ofMessage(id, 'email.sent')(r)));
      const delivered = receiver.delivered('email.sent');
      expect(delivered).toHaveLength(3);
      expect(new Set(delivered.map((e) => e.id)).size).toBe(3);
      // Every attempt of one event carried the same webhook-id and body.
      for (const d of delivered) expect(new Set(receiver.received.filter((e) => e.id === d.id).map((e) => e.body)).size).toBe(1);
      // The outcome is written after the receiver answered: wait for the last of them.
      const rows = await eventually(
        async () =>
          (await ds.query(`SELECT status, attempts FROM webhook_deliveries WHERE webhook_id = $1`, [created[0]])) as {
            status: string;
            attempts: number;
          }[],
        (found) => found.every((r) => r.status === 'delivered'),
      );
      expect(rows.map((r) => r.status)).toEqual(['delivered', 'delivered', 'delivered']);
      expect(Math.max(...rows.map((r) => r.attempts))).toBeGreaterThan(1);
    });

    it('should give up when the retry schedule is spent, and record why', async () => {
      const hook = await createWebhook({});
      receiver.answerWith(500);
      const test = await request(t.server).post(`${API}/webhooks/${hook.id}/test/`).set(t.auth).expect(200);
      expect(test.body).toMatchObject({ success: false, status_code: 500, error: 'The receiver answered 500.' });
      expect(test.body.delivery).toMatchObject({
        event: 'webhook.test',
        status: 'pending',
        attempts: 1,
        next_retry_at: expect.any(String),
      });
      // Three retries 0.3 s apart, then given up.
      await receiver.waitFor((r) => r.length === 4);
      let delivery: { status: string; attempts: number; last_error: string; next_retry_at: string | null } | undefined;
      for (let i = 0; i < 100 && delivery?.status !== 'failed'; i++) {
        await new Promise((r) => setTimeout(r, 50));
        delivery = (await request(t.server).get(`${API}/webhooks/${hook.id}/deliveries/`).set(t.auth)).body.results[0];
      }
      expect(delivery).toMatchObject({
        status: 'failed',
        attempts: 4,
        last_status_code: 500,
        last_error: 'The receiver answered 500.',
        next_retry_at: null,
      });
      await new Promise((r) => setTimeout(r, 700));
      expect(receiver.received).toHaveLength(4);
      expect((await request(t.server).get(`${API}/webhooks/${hook.id}/`).set(t.auth)).body.deliveries).toMatchObject({
        failed: 1,
        pending: 0,
      });
    });

    it('should turn the endpoint off when the receiver answers 410 Gone, and hold its events until it is turned on again', async () => {
      const hook = await createWebhook({ events: ['email.sent'] });
      const sink = await servers.start();
      await providerFor(t, sink);
      receiver.answerWith(410);
      const first = await send().expect(202);
      await receiver.waitFor((r) => r.length === 1);
      let state: { is_active: boolean; disabled_reason: string | null } = { is_active: true, disabled_reason: null };
      for (let i = 0; i < 100 && state.is_active; i++) {
        await new Promise((r) => setTimeout(r, 50));
        state = (await request(t.server).get(`${API}/webhooks/${hook.id}/`).set(t.auth)).body;
      }
      expect(state).toMatchObject({ is_active: false, disabled_reason: expect.stringContaining('410 Gone') });
      expect(receiver.received[0].event.data.id).toBe(first.body.id);
      // Turned off: the next message raises nothing for it.
      const second = await send().expect(202);
      await waitForMessage(t, second.body.id);
      await new Promise((r) => setTimeout(r, 300));
      expect(receiver.received).toHaveLength(1);
      expect((await ds.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE webhook_id = $1`, [hook.id]))[0].n).toBe(1);
      // Turned on again: it takes events again, and why it was off is cleared.
      receiver.answerWith(200);
      const on = await request(t.server).patch(`${API}/webhooks/${hook.id}/`).set(t.auth).send({ is_active: true }).expect(200);
      expect(on.body).toMatchObject({ is_active: true, disabled_reason: null, disabled_at: null });
      const third = await send().expect(202);
      await receiver.waitFor(ofMessage(third.body.id, 'email.sent'));
    });

    it('should sign with both secrets for a day after a rotation', async () => {
      const hook = await createWebhook({});
      const rotated = await request(t.server).post(`${API}/webhooks/${hook.id}/rotate_secret/`).set(t.auth).expect(200);
      expect(rotated.body.secret).toMatch(/^whsec_/);
      expect(rotated.body.secret).not.toBe(hook.secret);
      const overlap = Date.parse(rotated.body.previous_secret_expires_at) - Date.now();
      expect(overlap).toBeGreaterThan(23.9 * 3600_000);
      expect(overlap).toBeLessThanOrEqual(24 * 3600_000);
      const test = await request(t.server).post(`${API}/webhooks/${hook.id}/test/`).set(t.auth).expect(200);
      expect(test.body).toMatchObject({ success: true, status_code: 200, error: null, delivery: { status: 'delivered' } });
      const [got] = receiver.received;
      expect(got.event).toMatchObject({ type: 'webhook.test', data: { webhook_id: hook.id } });
      expect(got.signature.split(' ')).toHaveLength(2);
      expect(WebhookReceiver.verify(got, hook.secret)).toBeTruthy();
      expect(WebhookReceiver.verify(got, rotated.body.secret)).toBeTruthy();
      // Once the overlap is over, only the new secret signs.
      await ds.query(`UPDATE webhooks SET previous_secret_expires_at = now() - interval '1 second' WHERE id = $1`, [hook.id]);
      await request(t.server).post(`${API}/webhooks/${hook.id}/test/`).set(t.auth).expect(200);
      const latest = receiver.received[1];
      expect(latest.signature.split(' ')).toHaveLength(1);
      expect(WebhookReceiver.verify(latest, rotated.body.secret)).toBeTruthy();
      expect(() => WebhookReceiver.verify(latest, hook.secret)).toThrow();
      expect(t.logs.text()).not.toContain(rotated.body.secret.slice(6));
    });

    it('should delete events past WEBHOOK_RETENTION_DAYS once every delivery of them is over, and keep those still pending', async () => {
      const hook = await createWebhook({ is_active: false });
      const old = async (status: string | null) => {
        const [{ id }] = await ds.query(
          `INSERT INTO webhook_events (type, data, created_at) VALUES ('email.sent', '{}', now() - interval '31 days') RETURNING id::text AS id`,
        );
        if (status)
          await ds.query(`INSERT INTO webhook_deliveries (event_id, webhook_id, status) VALUES ($1, $2, $3)`, [id, hook.id, status]);
        return id as string;
      };
      const delivered = await old('delivered');
      const failed = await old('failed');
      const pending = await old('pending');
      const orphan = await old(null);
      const [{ id: recent }] = await ds.query(
        `INSERT INTO webhook_events (type, data) VALUES ('email.sent', '{}') RETURNING id::text AS id`,
      );
      const round = await t.app.get(RetentionService).purge();
      expect(round.webhookEventsDeleted).toBeGreaterThanOrEqual(3);
      const left = (
        await ds.query(`SELECT id::text AS id FROM webhook_events WHERE id = ANY($1)`, [[delivered, failed, pending, orphan, recent]])
      ).map((r: { id: string }) => r.id);
      expect(left.sort()).toEqual([pending, recent].sort());
      expect((await ds.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE webhook_id = $1`, [hook.id]))[0].n).toBe(1);
    });

    it('should keep sending at full pace while the receiver never answers', async () => {
      await createWebhook({ events: ['email.sent'] });
      const sink = await servers.start();
      await providerFor(t, sink);
      receiver.answerWith('hang');
      const res = await request(t.server)
        .post(`${API}/send/batch/`)
        .set(t.auth)
        .send({ messages: Array.from({ length: 20 }, (_, i) => ({ to: 'alice@example.com', subject: `m${i}`, text: 'x' })) })
        .expect(200);
      for (const r of res.body.results) expect((await waitForMessage(t, r.message.id, undefined, 5_000)).status).toBe('sent');
      expect(sink.received).toHaveLength(20);
    });
  });
});

describe('Webhooks with two dispatchers on one database', () => {
  let a: TestApp;
  let b: TestApp | undefined;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    a = await startApp({ env: fastSendingEnv({ ...FAST_WEBHOOKS, WEBHOOK_CONCURRENCY: '4' }) });
    // PGlite is one process's database: a second instance exists only on a PostgreSQL server.
    if (a.db.server) b = await startApp({ db: a.db, env: fastSendingEnv({ ...FAST_WEBHOOKS, WEBHOOK_CONCURRENCY: '4' }) });
  });
  afterAll(async () => {
    await b?.close();
    await a.close();
    await receiver.close();
  });

  it('should deliver each event exactly once', async () => {
    const hook = (
      await request(a.server)
        .post(`${API}/webhooks/`)
        .set(a.auth)
        .send({ url: receiver.url, events: ['*'] })
        .expect(201)
    ).body;
    // Slow answers keep deliveries in flight in both instances at once.
    receiver.answerWith(200, 40);
    const ds = a.app.get(DataSource);
    await ds.query(
      `SELECT webhook_raise(array_agg('provider.failover'::text), array_agg(jsonb_build_object('n', n))) FROM generate_series(1, 60) AS n`,
    );
    await receiver.waitFor((r) => r.length >= 60, 30_000);
    await new Promise((r) => setTimeout(r, 500));
    const ids = receiver.received.map((e) => e.id);
    expect(ids).toHaveLength(60);
    expect(new Set(ids).size).toBe(60);
    expect(new Set(receiver.received.map((e) => (e.event.data as { n: number }).n)).size).toBe(60);
    for (const e of receiver.received) expect(WebhookReceiver.verify(e, hook.secret)).toBeTruthy();
    const delivered = await eventually(
      async () => (await ds.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'delivered'`))[0].n as number,
      (n) => n === 60,
    );
    expect(delivered).toBe(60);
  });
});
