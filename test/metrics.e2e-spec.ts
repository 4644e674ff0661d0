import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { MetricsPortServer } from '../src/metrics/metrics-port.server.js';
import { API, startApp, type TestApp } from './support/app.js';
import { baseDatabaseUrl, provisionDatabase, type TestDatabase } from './support/database.js';
import { parseExposition, scrape, Scrape } from './support/metrics.js';
import { deactivateAllProviders, fastSendingEnv, providerFor, sesProviderFor, waitForMessage } from './support/sending.js';
import { SesEmulator, sesAccount } from './support/ses-emulator.js';
import { startServiceProcess, type ServiceProcess } from './support/service-process.js';
import { closedPort, smtpServers } from './support/smtp-server.js';
import { proxiedServerDatabase, TcpProxy } from './support/tcp-proxy.js';

const message = (overrides: Record<string, unknown> = {}) => ({
  to: 'alice@example.com',
  cc: ['carol@example.org'],
  subject: 'Quarterly numbers for alice@example.com',
  text: 'Plain body',
  ...overrides,
});

describe('GET /metrics (real sends through SMTP servers on loopback)', () => {
  let t: TestApp;
  const servers = smtpServers();
  const metrics = () => scrape(t.server, t.auth);
  const send = (body: Record<string, unknown>) => request(t.server).post(`${API}/send/`).set(t.auth).send(body);

  beforeAll(async () => {
    t = await startApp({ env: fastSendingEnv({ METRICS_PORT: '0' }) });
  });
  beforeEach(async () => {
    await deactivateAllProviders(t);
  });
  afterEach(async () => {
    await servers.closeAll();
  });
  afterAll(async () => {
    await t.close();
  });

  it('should count accepted messages, attempts and finished messages, and time them, after real sends', async () => {
    const sink = await servers.start();
    const p = await providerFor(t, sink);
    const before = await metrics();
    for (let i = 0; i < 2; i++) expect((await send(message({ wait: true }))).body.status).toBe('sent');
    const batch = await request(t.server)
      .post(`${API}/send/batch/`)
      .set(t.auth)
      .send({ messages: [message(), message({ to: 'bob@example.com' }), { to: 'not an address', subject: 's', text: 't' }] });
    expect(batch.body.accepted).toBe(2);
    for (const r of batch.body.results.filter((x: { status: number }) => x.status === 202))
      expect((await waitForMessage(t, r.message.id)).status).toBe('sent');
    const after = await metrics();

    const delta = (name: string, labels: Record<string, string | number> = {}) => after.count(name, labels) - before.count(name, labels);
    expect(delta('email_messages_accepted_total')).toBe(4);
    expect(delta('email_send_attempts_total', { provider_id: p.id, provider_type: 'smtp', outcome: 'accepted' })).toBe(4);
    expect(delta('email_messages_finished_total', { status: 'sent' })).toBe(4);
    expect(delta('email_messages_finished_total', { status: 'failed' })).toBe(0);
    expect(delta('email_delivery_latency_seconds_count')).toBe(4);
    expect(after.count('email_delivery_latency_seconds_sum') - before.count('email_delivery_latency_seconds_sum')).toBeGreaterThan(0);
    expect(delta('email_attempt_duration_seconds_count', { provider_id: p.id })).toBe(4);
    expect(after.value('email_attempt_duration_seconds_bucket', { provider_id: p.id, le: '+Inf' })).toBe(
      after.value('email_attempt_duration_seconds_count', { provider_id: p.id }),
    );
    expect(sink.received).toHaveLength(4);
  });

  it('should count a failed message, the rejected attempt and the queue as the database holds it', async () => {
    const sink = await servers.start({ faults: { onData: 'reject-550' } });
    const p = await providerFor(t, sink);
    const before = await metrics();
    const res = await send(message({ wait: true }));
    expect(res.body.status).toBe('failed');
    const later = await send(message({ send_at: new Date(Date.now() + 3600_000).toISOString() }));
    expect(later.status).toBe(202);
    const after = await metrics();
    expect(
      after.count('email_messages_finished_total', { status: 'failed' }) -
        before.count('email_messages_finished_total', { status: 'failed' }),
    ).toBe(1);
    expect(
      after.count('email_send_attempts_total', { provider_id: p.id, provider_type: 'smtp', outcome: 'message_rejected' }) -
        before.count('email_send_attempts_total', { provider_id: p.id, provider_type: 'smtp', outcome: 'message_rejected' }),
    ).toBe(1);
    expect(after.value('email_queue_messages', { status: 'scheduled' })).toBe(1);
    expect(after.value('email_queue_messages', { status: 'queued' })).toBe(0);
    expect(after.value('email_queue_messages', { status: 'sending' })).toBe(0);
    // A scheduled message is not due before its time.
    expect(after.value('email_queue_oldest_due_seconds')).toBe(0);
  });

  it('should count a failover from a provider whose server refuses to the next one, and both attempts', async () => {
    const refusing = await servers.start({ faults: { onConnect: 'refuse-421' } });
    const sink = await servers.start();
    const primary = await providerFor(t, refusing, { priority: 1 });
    const secondary = await providerFor(t, sink, { priority: 2 });
    const before = await metrics();
    const res = await send(message({ wait: true }));
    expect(res.body.provider_id).toBe(secondary.id);
    const after = await metrics();
    const delta = (name: string, labels: Record<string, string | number>) => after.count(name, labels) - before.count(name, labels);
    expect(delta('email_failovers_total', { from_provider_id: primary.id, to_provider_id: secondary.id })).toBe(1);
    expect(delta('email_send_attempts_total', { provider_id: primary.id, provider_type: 'smtp', outcome: 'provider_failure' })).toBe(1);
    expect(delta('email_send_attempts_total', { provider_id: secondary.id, provider_type: 'smtp', outcome: 'accepted' })).toBe(1);
    expect(sink.received).toHaveLength(1);
  });

  it('should count health checks by outcome and show each active provider up, down or absent while unknown', async () => {
    const sink = await servers.start();
    const good = await providerFor(t, sink);
    const bad = await providerFor(t, { host: '127.0.0.1', port: await closedPort() });
    const unknown = await providerFor(t, sink);
    const before = await metrics();
    expect(before.value('email_provider_up', { provider_id: good.id, provider_type: 'smtp' })).toBeUndefined();

    expect((await request(t.server).post(`${API}/providers/${good.id}/health_check/`).set(t.auth)).body.is_healthy).toBe(true);
    expect((await request(t.server).post(`${API}/providers/${bad.id}/health_check/`).set(t.auth)).body.is_healthy).toBe(false);
    const after = await metrics();
    const checks = (scraped: Scrape, id: number, outcome: string) =>
      scraped.count('email_health_checks_total', { provider_id: id, outcome });
    expect(checks(after, good.id, 'healthy') - checks(before, good.id, 'healthy')).toBe(1);
    expect(checks(after, bad.id, 'unhealthy') - checks(before, bad.id, 'unhealthy')).toBe(1);
    expect(after.value('email_provider_up', { provider_id: good.id, provider_type: 'smtp' })).toBe(1);
    expect(after.value('email_provider_up', { provider_id: bad.id, provider_type: 'smtp' })).toBe(0);
    expect(after.value('email_provider_up', { provider_id: unknown.id, provider_type: 'smtp' })).toBeUndefined();

    // What another instance records reaches this one's scrape: the gauge is read from the database.
    await t.app.get(DataSource).query(`UPDATE providers SET health_status = 'unhealthy' WHERE id = $1`, [good.id]);
    expect((await metrics()).value('email_provider_up', { provider_id: good.id, provider_type: 'smtp' })).toBe(0);

    // A deactivated provider is not watched: its series goes away.
    await request(t.server).post(`${API}/providers/${bad.id}/deactivate/`).set(t.auth).expect(200);
    expect((await metrics()).value('email_provider_up', { provider_id: bad.id, provider_type: 'smtp' })).toBeUndefined();
  });

  it('should count sends refused by a limit and show each provider’s usage against its limits', async () => {
    const primarySink = await servers.start();
    const sink = await servers.start();
    const primary = await providerFor(t, primarySink, { priority: 1, daily_limit: 1, monthly_limit: 4 });
    const secondary = await providerFor(t, sink, { priority: 2 });
    const before = await metrics();
    expect((await send(message({ wait: true }))).body.provider_id).toBe(primary.id);
    expect((await send(message({ wait: true }))).body.provider_id).toBe(secondary.id);
    const after = await metrics();
    expect(
      after.count('email_rate_limited_total', { provider_id: primary.id, limit: 'day' }) -
        before.count('email_rate_limited_total', { provider_id: primary.id, limit: 'day' }),
    ).toBe(1);
    expect(after.value('email_provider_usage_ratio', { provider_id: primary.id, period: 'day' })).toBe(1);
    expect(after.value('email_provider_usage_ratio', { provider_id: primary.id, period: 'month' })).toBe(0.25);
    // No limit, no ratio.
    expect(after.value('email_provider_usage_ratio', { provider_id: secondary.id, period: 'day' })).toBeUndefined();
  });

  it('should count HTTP requests by route template and status, never by the raw URL', async () => {
    const p = await providerFor(t, { host: '127.0.0.1', port: 2525 });
    await request(t.server).get(`${API}/providers/${p.id}/`).set(t.auth).expect(200);
    await request(t.server).get(`${API}/providers/999999/`).set(t.auth).expect(404);
    await request(t.server).get('/no/such/path').expect(404);
    const after = await metrics();
    const route = '/api/email-provider/providers/:id';
    expect(after.count('email_http_requests_total', { method: 'GET', route, status: 200 })).toBeGreaterThanOrEqual(1);
    expect(after.count('email_http_requests_total', { method: 'GET', route, status: 404 })).toBeGreaterThanOrEqual(1);
    expect(after.count('email_http_request_duration_seconds_count', { method: 'GET', route, status: 200 })).toBeGreaterThanOrEqual(1);
    expect(after.count('email_http_requests_total', { method: 'GET', route: 'unmatched', status: 404 })).toBeGreaterThanOrEqual(1);
    const routes = new Set(after.samples.filter((s) => s.name === 'email_http_requests_total').map((s) => s.labels.route));
    for (const r of routes) expect(r).not.toMatch(/\d{2,}|no\/such/);
  });

  it('should expose Node’s process metrics and only names with the email_ prefix, and no address in any label', async () => {
    const sink = await servers.start();
    await providerFor(t, sink);
    expect((await send(message({ wait: true }))).body.status).toBe('sent');
    const all = await metrics();
    expect(all.value('email_process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(all.value('email_nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    for (const s of all.samples) {
      expect(s.name).toMatch(/^email_/);
      for (const v of Object.values(s.labels)) expect(v).not.toMatch(/@|example\.(com|org)|Quarterly/);
    }
  });

  describe('access', () => {
    const createKey = async (scopes: string[]): Promise<string> => {
      const res = await request(t.server)
        .post(`${API}/api-keys/`)
        .set(t.auth)
        .send({ name: `metrics ${scopes.join('+')}`, scopes });
      expect(res.status).toBe(201);
      return (res.body as { key: string }).key;
    };

    it('should answer a key with the metrics scope in the text format, outside the API prefix', async () => {
      const key = await createKey(['metrics']);
      const res = await request(t.server).get('/metrics').set('Authorization', `Bearer ${key}`);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(parseExposition(res.text).some((s) => s.name === 'email_messages_accepted_total')).toBe(true);
      expect((await request(t.server).get(`${API}/metrics/`).set('Authorization', `Bearer ${key}`)).status).toBe(404);
    });

    it('should refuse a key without the metrics scope (403) and a request without a key (401)', async () => {
      const key = await createKey(['send', 'providers:read', 'providers:write']);
      const forbidden = await request(t.server).get('/metrics').set('Authorization', `Bearer ${key}`);
      expect(forbidden.status).toBe(403);
      expect(forbidden.body).toEqual({ detail: 'You do not have permission to perform this action.' });
      const anonymous = await request(t.server).get('/metrics');
      expect(anonymous.status).toBe(401);
      expect(anonymous.body).toEqual({ detail: 'Authentication credentials were not provided.' });
    });

    it('should log refused scrapes but not successful ones, which would drown the log', async () => {
      await scrape(t.server, t.auth);
      await request(t.server).get('/metrics').expect(401);
      await new Promise((r) => setTimeout(r, 50));
      const completed = t.logs.lines
        .filter((l) => l.includes('"url":"/metrics"'))
        .map((l) => (JSON.parse(l) as { res?: { statusCode: number } }).res?.statusCode);
      expect(completed).toContain(401);
      expect(completed).not.toContain(200);
    });

    it('should serve the metrics without a key on METRICS_PORT, and nothing else there', async () => {
      const address = t.app.get(MetricsPortServer).address();
      expect(address?.address).toBe('127.0.0.1');
      const base = `http://127.0.0.1:${address?.port}`;
      const res = await fetch(`${base}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const scraped = new Scrape(parseExposition(await res.text()));
      expect(scraped.value('email_queue_messages', { status: 'queued' })).toBe(0);
      expect((await fetch(`${base}/api/email-provider/providers/`)).status).toBe(404);
      const post = await fetch(`${base}/metrics`, { method: 'POST' });
      expect(post.status).toBe(405);
      expect(post.headers.get('allow')).toBe('GET, HEAD');
    });
  });
});

describe('email_queue_oldest_due_seconds (no worker claims the messages)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp({ env: { ...fastSendingEnv({ SEND_WORKERS_ENABLED: 'false' }), METRICS_PORT: undefined } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('should show how long the oldest due message has waited, and the queued count, from the database', async () => {
    const empty = await scrape(t.server, t.auth);
    expect(empty.value('email_queue_oldest_due_seconds')).toBe(0);
    expect(t.app.get(MetricsPortServer).address()).toBeNull();
    for (let i = 0; i < 3; i++) expect((await request(t.server).post(`${API}/send/`).set(t.auth).send(message())).status).toBe(202);
    await new Promise((r) => setTimeout(r, 1200));
    const after = await scrape(t.server, t.auth);
    expect(after.value('email_queue_messages', { status: 'queued' })).toBe(3);
    expect(after.value('email_queue_oldest_due_seconds')).toBeGreaterThanOrEqual(1);
    expect(after.value('email_queue_oldest_due_seconds')).toBeLessThan(30);
  });
});

describe('Metrics of two instances (two processes) on one PostgreSQL database', () => {
  // Without a PostgreSQL server the database is PGlite inside one process: there is one instance.
  if (!baseDatabaseUrl()) return;

  let db: TestDatabase;
  let a: TestApp;
  let b: ServiceProcess;
  const servers = smtpServers();
  const scrapeB = async () => {
    const res = await fetch(`${b.url}/metrics`, { headers: b.auth });
    expect(res.status).toBe(200);
    return new Scrape(parseExposition(await res.text()));
  };

  beforeAll(async () => {
    db = await provisionDatabase();
    // Explicit: startApp leaves the variables an earlier app of this file set.
    a = await startApp({ db, env: { ...fastSendingEnv({ SEND_WORKERS_ENABLED: 'true' }), METRICS_PORT: undefined } });
    // B takes requests only: A's workers deliver what B accepts.
    b = await startServiceProcess({ ...db.env, ...fastSendingEnv({ SEND_WORKERS_ENABLED: 'false' }), METRICS_PORT: undefined });
  });
  afterAll(async () => {
    await servers.closeAll();
    await b?.stop('SIGTERM');
    await a?.close();
    await db.drop();
  });

  it('should count each message on the instance that handled it, and report the shared state alike on both', async () => {
    const sink = await servers.start();
    const p = await providerFor(a, sink);
    expect((await request(a.server).post(`${API}/providers/${p.id}/health_check/`).set(a.auth)).body.is_healthy).toBe(true);
    const [beforeA, beforeB] = [await scrape(a.server, a.auth), await scrapeB()];

    expect(
      (
        await request(a.server)
          .post(`${API}/send/`)
          .set(a.auth)
          .send(message({ wait: true }))
      ).body.status,
    ).toBe('sent');
    const viaB = await fetch(`${b.url}${API}/send/`, {
      method: 'POST',
      headers: { ...b.auth, 'Content-Type': 'application/json' },
      body: JSON.stringify(message()),
    });
    expect(viaB.status).toBe(202);
    expect((await waitForMessage(a, ((await viaB.json()) as { id: number }).id)).status).toBe('sent');

    const [afterA, afterB] = [await scrape(a.server, a.auth), await scrapeB()];
    const delta = (after: Scrape, before: Scrape, name: string, labels: Record<string, string | number> = {}) =>
      after.count(name, labels) - before.count(name, labels);
    // Counters are per instance: each accepted one message; A's workers sent both. Prometheus sums them.
    expect(delta(afterA, beforeA, 'email_messages_accepted_total')).toBe(1);
    expect(delta(afterB, beforeB, 'email_messages_accepted_total')).toBe(1);
    expect(delta(afterA, beforeA, 'email_messages_finished_total', { status: 'sent' })).toBe(2);
    expect(delta(afterB, beforeB, 'email_messages_finished_total', { status: 'sent' })).toBe(0);
    // Gauges come from the database: B, which checked nothing and sent nothing, reports what A did.
    expect(afterB.value('email_provider_up', { provider_id: p.id, provider_type: 'smtp' })).toBe(1);
    for (const status of ['queued', 'scheduled', 'sending'])
      expect(afterB.value('email_queue_messages', { status })).toBe(afterA.value('email_queue_messages', { status }));
    expect(sink.received).toHaveLength(2);
  });
});

/** Through a proxy that plays a stopped PostgreSQL server (needs a server, so it runs in both CI modes, as database-faults does). */
describe('GET /metrics while the database does not answer', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let t: TestApp;

  beforeAll(async () => {
    const proxied = await proxiedServerDatabase();
    ({ db, proxy } = proxied);
    const url = proxied.url;
    t = await startApp({
      db,
      env: fastSendingEnv({
        DATABASE_URL: url,
        DATABASE_CONNECT_TIMEOUT_MS: '1000',
        SEND_WORKERS_ENABLED: 'false',
        METRICS_PORT: '0',
      }),
    });
  });
  afterAll(async () => {
    await proxy?.resume();
    await t?.close();
    await proxy?.close();
    await db?.drop();
  });

  it('should fail the scrape with 503 in the contract shape (not stale numbers, not 500), then serve again', async () => {
    const base = `http://127.0.0.1:${t.app.get(MetricsPortServer).address()?.port}`;
    await proxy.refuse();
    const down = await request(t.server).get('/metrics').set(t.auth);
    expect({ status: down.status, body: down.body as unknown }).toEqual({ status: 503, body: { detail: expect.any(String) } });
    const unauthenticated = await fetch(`${base}/metrics`);
    expect(unauthenticated.status).toBe(503);
    expect(await unauthenticated.json()).toEqual({ detail: expect.any(String) });
    await proxy.resume();
    const deadline = Date.now() + 10_000;
    let status = 0;
    while ((status = (await request(t.server).get('/metrics').set(t.auth)).status) !== 200 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(status).toBe(200);
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
  });
});

describe('Metrics of an Amazon SES provider (the aws-ses-v2-local emulator)', () => {
  let t: TestApp;
  let ses: SesEmulator;
  const servers = smtpServers();

  beforeAll(async () => {
    ses = await SesEmulator.start();
    t = await startApp({ env: { ...fastSendingEnv({ SEND_WORKERS_ENABLED: 'true', ...ses.env() }), METRICS_PORT: undefined } });
  });
  afterAll(async () => {
    await servers.closeAll();
    await t.close();
    await ses.close();
    delete process.env.AWS_ENDPOINT_URL_SESV2;
  });

  it('should label its attempts and health aws_ses, and count a send its account quota refused as limit "quota"', async () => {
    // Counters live in the process's registry, which the other apps of this file (other databases, the same ids) share.
    const before = await scrape(t.server, t.auth);
    ses.setAccount(sesAccount({ SendQuota: { Max24HourSend: 1, MaxSendRate: 10, SentLast24Hours: 0 } }));
    const p = await sesProviderFor(t, { aws_secret_access_key: 'Ses-Secret-Key/0123456789abcdefEXAMPLE', priority: 1 });
    expect((await request(t.server).post(`${API}/providers/${p.id}/health_check/`).set(t.auth)).body.is_healthy).toBe(true);
    const sink = await servers.start();
    const fallback = await providerFor(t, sink, { priority: 2 });
    const send = () =>
      request(t.server)
        .post(`${API}/send/`)
        .set(t.auth)
        .send(message({ wait: true }));

    expect((await send()).body.provider_id).toBe(p.id);
    expect((await send()).body.provider_id).toBe(fallback.id);
    const after = await scrape(t.server, t.auth);
    const delta = (name: string, labels: Record<string, string | number>) => after.count(name, labels) - before.count(name, labels);
    expect(delta('email_send_attempts_total', { provider_id: p.id, provider_type: 'aws_ses', outcome: 'accepted' })).toBe(1);
    expect(delta('email_rate_limited_total', { provider_id: p.id, limit: 'quota' })).toBe(1);
    expect(delta('email_health_checks_total', { provider_id: p.id, outcome: 'healthy' })).toBe(1);
    expect(after.value('email_provider_up', { provider_id: p.id, provider_type: 'aws_ses' })).toBe(1);
    expect(ses.sent).toHaveLength(1);
  });
});
