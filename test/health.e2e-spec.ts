import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { API, startApp, type TestApp } from './support/app.js';
import { AiosmtpdServer } from './support/aiosmtpd.js';
import { provisionDatabase, type TestDatabase } from './support/database.js';
import { deactivateAllProviders, fastSendingEnv, providerFor } from './support/sending.js';
import { closedPort, smtpServers, TestSmtpServer } from './support/smtp-server.js';

const CHECK_TIMEOUT_MS = 1000;
const healthEnv = (overrides: Record<string, string> = {}) =>
  fastSendingEnv({
    HEALTH_CHECK_TIMEOUT_MS: String(CHECK_TIMEOUT_MS),
    HEALTH_FAILURE_THRESHOLD: '3',
    HEALTH_PROBE_COOLDOWN_SECONDS: '1',
    ...overrides,
  });

type History = {
  count: number;
  results: { trigger: string; healthy: boolean; latency: number; error_class: string | null; checked_at: string }[];
};

describe('Provider health: checks on demand, passive detection, health_status and history', () => {
  let t: TestApp;
  const servers = smtpServers();
  const server = servers.start;
  const check = (id: number) => request(t.server).post(`${API}/providers/${id}/health_check/`).set(t.auth);
  const provider = async (id: number) => (await request(t.server).get(`${API}/providers/${id}/`).set(t.auth).expect(200)).body;

  beforeAll(async () => {
    t = await startApp({ env: healthEnv() });
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

  it('should call a server healthy after STARTTLS and AUTH succeed (Debian aiosmtpd), as the seed shows', async () => {
    const aiosmtpd = await AiosmtpdServer.start({ user: 'checker', pass: 'check-pass' });
    try {
      const p = await providerFor(t, aiosmtpd, { smtp_use_tls: true, smtp_username: 'checker', smtp_password: 'check-pass' });
      const res = await check(p.id);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        provider_id: p.id,
        provider_name: p.name,
        is_healthy: true,
        health_status: 'healthy',
        last_health_check: expect.stringMatching(/Z$/),
        error: null,
      });
      expect(await provider(p.id)).toMatchObject({
        health_status: 'healthy',
        health_status_display: 'Healthy',
        last_health_check: res.body.last_health_check,
      });
      expect(await aiosmtpd.received()).toEqual([]); // no mail is sent by a check
    } finally {
      await aiosmtpd.stop();
    }
  });

  it.each([
    [
      'a wrong password',
      async () => ({
        srv: await server({ starttls: true, auth: { user: 'u', pass: 'right' } }),
        o: { smtp_use_tls: true, smtp_username: 'u', smtp_password: 'Wrong-Secret-77' },
      }),
      'EAUTH',
    ],
    ['a closed port', async () => ({ srv: { host: '127.0.0.1', port: await closedPort() }, o: {} }), 'ESOCKET'],
    ['TLS required but not offered', async () => ({ srv: await server(), o: { smtp_use_tls: true } }), 'ETLS'],
    ['a server that never greets', async () => ({ srv: await server({ faults: { onConnect: 'never-greet' } }), o: {} }), 'ETIMEDOUT'],
  ])('should call a provider unhealthy, with the reason and no secret, given %s', async (_, setup, code) => {
    const { srv, o } = await setup();
    const p = await providerFor(t, srv, o);
    const res = await check(p.id);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ is_healthy: false, health_status: 'unhealthy' });
    expect(res.body.error).toContain(code);
    const detail = await provider(p.id);
    expect(detail.health_status).toBe('unhealthy');
    const history = (await request(t.server).get(`${API}/providers/${p.id}/health_history/`).set(t.auth).expect(200)).body as History;
    expect(history.results[0]).toMatchObject({ trigger: 'manual', healthy: false, error_class: code });
    // The check is bounded by HEALTH_CHECK_TIMEOUT_MS, whatever the server does.
    expect(history.results[0].latency).toBeLessThan((CHECK_TIMEOUT_MS * 3) / 1000);
    for (const text of [JSON.stringify(res.body), JSON.stringify(history), t.logs.text()]) expect(text).not.toContain('Wrong-Secret-77');
  });

  it('should list checks newest first, paginated, and answer 404 for an unknown provider', async () => {
    const sink = await server();
    const p = await providerFor(t, sink);
    for (let i = 0; i < 3; i++) await check(p.id).expect(200);
    const page = (await request(t.server).get(`${API}/providers/${p.id}/health_history/?page_size=2`).set(t.auth).expect(200))
      .body as History & {
      next: string | null;
    };
    expect(page.count).toBe(3);
    expect(page.results).toHaveLength(2);
    expect(Date.parse(page.results[0].checked_at)).toBeGreaterThanOrEqual(Date.parse(page.results[1].checked_at));
    expect(page.next).toContain('page=2');
    await request(t.server).get(`${API}/providers/999999/health_history/`).set(t.auth).expect(404);
    await check(999999).expect(404, { detail: 'Not found.' });
  });

  it('should report can_send_email only for active, not unhealthy providers under their limits', async () => {
    const sink = await server();
    const ok = await providerFor(t, sink);
    const inactive = await providerFor(t, sink, { is_active: false });
    const full = await providerFor(t, sink, { daily_limit: 0 });
    const broken = await providerFor(t, { host: '127.0.0.1', port: await closedPort() });
    await check(broken.id).expect(200);
    const rows = (await request(t.server).get(`${API}/providers/health_status/`).set(t.auth).expect(200)).body as {
      provider_id: number;
      can_send_email: boolean;
      is_healthy: boolean;
      health_status: string;
    }[];
    const row = (id: number) => rows.find((r) => r.provider_id === id);
    expect(row(ok.id)).toMatchObject({ can_send_email: true, is_healthy: false, health_status: 'unknown' });
    expect(row(inactive.id)?.can_send_email).toBe(false);
    expect(row(full.id)?.can_send_email).toBe(false);
    expect(row(broken.id)).toMatchObject({ can_send_email: false, is_healthy: false, health_status: 'unhealthy' });
  });

  it('should turn a provider unhealthy after 3 failed sends in a row, skip it, then heal it with a probe after the cool-down', async () => {
    const flaky = await server({ faults: { onMailFrom: { code: 451, message: 'Local problem' } } });
    const backup = await server();
    const primary = await providerFor(t, flaky, { priority: 1 });
    const secondary = await providerFor(t, backup, { priority: 2 });
    const send = () =>
      request(t.server).post(`${API}/send/`).set(t.auth).send({ to: 'a@example.com', subject: 's', text: 't', wait: true });

    for (let i = 1; i <= 2; i++) {
      expect((await send()).body.provider_id).toBe(secondary.id);
      expect(await provider(primary.id)).toMatchObject({ health_status: 'unknown' });
    }
    expect((await send()).body.provider_id).toBe(secondary.id);
    expect(await provider(primary.id)).toMatchObject({ health_status: 'unhealthy' });

    const skipped = await send();
    expect(skipped.body.attempts.map((a: { provider_id: number }) => a.provider_id)).toEqual([secondary.id]);

    // After the cool-down it is a last resort: with the backup gone and the server fixed, a send heals it.
    flaky.setFaults({});
    await request(t.server).post(`${API}/providers/${secondary.id}/deactivate/`).set(t.auth).expect(200);
    await new Promise((r) => setTimeout(r, 1100));
    const probe = await send();
    expect(probe.body).toMatchObject({ status: 'sent', provider_id: primary.id });
    expect(await provider(primary.id)).toMatchObject({ health_status: 'healthy' });
  });

  it('should bring an unhealthy provider back with a successful active check', async () => {
    const srv = await server({ faults: { onConnect: 'refuse-421' } });
    const p = await providerFor(t, srv);
    expect((await check(p.id)).body.health_status).toBe('unhealthy');
    srv.setFaults({});
    expect((await check(p.id)).body).toMatchObject({ is_healthy: true, health_status: 'healthy' });
  });
});

describe('Scheduled health checks', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await provisionDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('should check every active provider on the schedule, once per round even with two instances on one database', async () => {
    const env = healthEnv({ HEALTH_CHECKS_ENABLED: 'true', HEALTH_CHECK_CRON: '*/2 * * * * *' });
    const a = await startApp({ db, env });
    // Embedded PGlite serves one process: the second instance only exists with a server.
    const b = db.server ? await startApp({ db, env }) : null;
    const sink = await TestSmtpServer.start();
    try {
      const p = await providerFor(a, sink);
      await providerFor(a, sink, { is_active: false }).then(async (inactive) => {
        await new Promise((r) => setTimeout(r, 5_500));
        const hist = (id: number) => request(a.server).get(`${API}/providers/${id}/health_history/`).set(a.auth).expect(200);
        const active = (await hist(p.id)).body as History;
        const scheduled = active.results.filter((r) => r.trigger === 'scheduled');
        // Rounds start every 2 s: 2 or 3 of them in 5.5 s, each checking the provider once.
        expect(scheduled.length).toBeGreaterThanOrEqual(2);
        expect(scheduled.length).toBeLessThanOrEqual(3);
        const times = scheduled.map((r) => Date.parse(r.checked_at)).sort();
        for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThan(1000);
        expect(scheduled.every((r) => r.healthy)).toBe(true);
        expect(((await hist(inactive.id)).body as History).count).toBe(0);
      });
    } finally {
      await sink.close();
      await b?.close();
      await a.close();
    }
  });
});
