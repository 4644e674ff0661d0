import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/database/data-source-options.js';
import type { Clock } from '../src/rate-limit/clock.js';
import { RateLimitRepository } from '../src/rate-limit/rate-limit.repository.js';
import { RateLimitService } from '../src/rate-limit/rate-limit.service.js';
import type { Reservation, ReserveResult } from '../src/rate-limit/rate-limit.types.js';
import { API, startApp, type TestApp } from './support/app.js';
import { ManualClock } from './support/clock.js';
import { smtpProviderBody } from './support/factories.js';
import { SesEmulator, sesAccount } from './support/ses-emulator.js';
import { closedPort } from './support/smtp-server.js';

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const HOUR = 3_600_000;

type SesAccountBody = {
  sending_enabled: boolean;
  enforcement_status: string | null;
  production_access_enabled: boolean | null;
  max_24_hour_send: number | null;
  max_send_rate: number | null;
  sent_last_24_hours: number | null;
  checked_at: string;
} | null;

let counter = 0;
function sesProviderBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  return {
    name: `SES ${counter} ${Date.now()}`,
    provider_type: 'aws_ses',
    aws_region: 'eu-west-1',
    aws_access_key_id: 'AKIAIOSFODNN7EXAMPLE',
    aws_secret_access_key: SECRET,
    from_email: 'ses@example.com',
    daily_limit: null,
    monthly_limit: null,
    rate_limit_per_minute: null,
    priority: 1,
    is_active: true,
    ...overrides,
  };
}

const quota = (Max24HourSend: number, MaxSendRate: number, SentLast24Hours = 0) =>
  sesAccount({ SendQuota: { Max24HourSend, MaxSendRate, SentLast24Hours } });

const granted = (results: ReserveResult[]) =>
  results.filter((r): r is { granted: true; reservation: Reservation } => r.granted).map((r) => r.reservation);

describe('Amazon SES: health from GetAccount, and the account quota as a limit (aws-ses-v2-local)', () => {
  let t: TestApp;
  let ses: SesEmulator;
  /** A second connection pool on the same database, as a second instance has (server mode only). */
  let otherPool: DataSource | null = null;

  const create = async (body: Record<string, unknown>) =>
    ((await request(t.server).post(`${API}/providers/`).set(t.auth).send(body).expect(201)).body as { id: number; name: string }).id;
  const check = (id: number) => request(t.server).post(`${API}/providers/${id}/health_check/`).set(t.auth).expect(200);
  const providerBody = async (id: number) =>
    (await request(t.server).get(`${API}/providers/${id}/`).set(t.auth).expect(200)).body as { ses_account: SesAccountBody };
  const rowOf = async (path: string, id: number) =>
    ((await request(t.server).get(`${API}${path}`).set(t.auth).expect(200)).body as { provider_id: number; [k: string]: unknown }[]).find(
      (r) => r.provider_id === id,
    );
  const history = async (id: number) =>
    (await request(t.server).get(`${API}/providers/${id}/health_history/`).set(t.auth).expect(200)).body as {
      results: { healthy: boolean; trigger: string; error_class: string | null; smtp_code: number | null; ses_account: SesAccountBody }[];
    };
  const limiters = (clock: Clock) => {
    const a = new RateLimitService(new RateLimitRepository(t.app.get(DataSource)), clock);
    const b = otherPool ? new RateLimitService(new RateLimitRepository(otherPool), clock) : a;
    return [a, b] as const;
  };
  /** An SES provider whose quota a successful check has read. */
  const checkedSesProvider = async (account: ReturnType<typeof sesAccount>, overrides: Record<string, unknown> = {}) => {
    ses.setAccount(account);
    const id = await create(sesProviderBody(overrides));
    expect((await check(id)).body).toMatchObject({ is_healthy: true });
    return id;
  };

  beforeAll(async () => {
    ses = await SesEmulator.start();
    t = await startApp({ env: { ...ses.env(), HEALTH_CHECK_TIMEOUT_MS: '2000' } });
    if (t.db.server) {
      otherPool = new DataSource(dataSourceOptions({ url: t.db.env.DATABASE_URL as string }, 10));
      await otherPool.initialize();
    }
  });
  afterAll(async () => {
    await otherPool?.destroy();
    await t.close();
    await ses.close();
  });

  describe('health', () => {
    it('should call a sending account healthy and show its state and quota on the provider, health_status, statistics and history', async () => {
      ses.setAccount(
        sesAccount({ ProductionAccessEnabled: false, SendQuota: { Max24HourSend: 200, MaxSendRate: 1, SentLast24Hours: 12 } }),
      );
      const id = await create(sesProviderBody());
      const smtpId = await create(smtpProviderBody());
      expect((await providerBody(id)).ses_account).toBeNull(); // nothing known before a check

      const res = await check(id);
      expect(res.body).toMatchObject({ provider_id: id, is_healthy: true, health_status: 'healthy', error: null });
      const expected = {
        sending_enabled: true,
        enforcement_status: 'HEALTHY',
        production_access_enabled: false,
        max_24_hour_send: 200,
        max_send_rate: 1,
        sent_last_24_hours: 12,
        checked_at: res.body.last_health_check,
      };
      expect(await providerBody(id)).toMatchObject({ health_status: 'healthy', ses_account: expected });
      expect(await rowOf('/providers/health_status/', id)).toMatchObject({ is_healthy: true, can_send_email: true, ses_account: expected });
      expect(await rowOf('/providers/statistics/', id)).toMatchObject({ health_status: 'healthy', ses_account: expected });
      expect((await history(id)).results).toEqual([
        expect.objectContaining({ healthy: true, trigger: 'manual', error_class: null, ses_account: expected }),
      ]);
      expect((await request(t.server).get(`${API}/providers/`).set(t.auth).expect(200)).body).toEqual(
        expect.arrayContaining([expect.objectContaining({ id, ses_account: expected })]),
      );

      // SMTP providers have none, everywhere.
      expect((await providerBody(smtpId)).ses_account).toBeNull();
      expect((await rowOf('/providers/health_status/', smtpId))?.ses_account).toBeNull();
      expect((await rowOf('/providers/statistics/', smtpId))?.ses_account).toBeNull();
    });

    it.each([
      ['paused (SendingEnabled false)', sesAccount({ SendingEnabled: false }), 'SES_SENDING_DISABLED', { sending_enabled: false }],
      [
        'shut down (EnforcementStatus SHUTDOWN)',
        sesAccount({ EnforcementStatus: 'SHUTDOWN' }),
        'SES_SHUTDOWN',
        { enforcement_status: 'SHUTDOWN' },
      ],
    ])('should call an account that is %s unhealthy and still record what SES said', async (_, account, code, shown) => {
      ses.setAccount(account);
      const id = await create(sesProviderBody());
      const res = await check(id);
      expect(res.body).toMatchObject({ is_healthy: false, health_status: 'unhealthy', error: expect.stringContaining(code) });
      expect(await providerBody(id)).toMatchObject({ health_status: 'unhealthy', ses_account: shown });
      expect(await rowOf('/providers/health_status/', id)).toMatchObject({
        can_send_email: false,
        last_error: expect.stringContaining(code),
        ses_account: shown,
      });
      expect((await history(id)).results[0]).toMatchObject({ healthy: false, error_class: code, ses_account: shown });
    });

    it('should call an unreachable endpoint unhealthy, keep the last known account state, and leak no secret', async () => {
      const id = await checkedSesProvider(quota(1000, 10, 3));
      const before = (await providerBody(id)).ses_account;
      const endpoint = process.env.AWS_ENDPOINT_URL_SESV2;
      process.env.AWS_ENDPOINT_URL_SESV2 = `http://127.0.0.1:${await closedPort()}`;
      try {
        const res = await check(id);
        expect(res.body).toMatchObject({ is_healthy: false, error: expect.stringContaining('ECONNREFUSED') });
      } finally {
        process.env.AWS_ENDPOINT_URL_SESV2 = endpoint;
      }
      expect(await providerBody(id)).toMatchObject({ health_status: 'unhealthy', ses_account: before });
      const [latest, first] = (await history(id)).results;
      expect(latest).toMatchObject({ healthy: false, error_class: 'ECONNREFUSED', ses_account: null });
      expect(first).toMatchObject({ healthy: true, ses_account: { max_24_hour_send: 1000 } });
      expect(JSON.stringify(await history(id))).not.toContain(SECRET);
      expect(t.logs.text()).not.toContain(SECRET);

      // Reachable again: healthy, with the new answer.
      ses.setAccount(quota(2000, 20, 5));
      expect((await check(id)).body).toMatchObject({ is_healthy: true });
      expect((await providerBody(id)).ses_account).toMatchObject({ max_24_hour_send: 2000, max_send_rate: 20, sent_last_24_hours: 5 });
    });

    it('should check SES providers on the schedule and bring a paused one back with a recovery probe', async () => {
      ses.setAccount(sesAccount({ SendingEnabled: false }));
      const s = await startApp({
        env: {
          ...ses.env(),
          HEALTH_CHECK_TIMEOUT_MS: '2000',
          HEALTH_CHECKS_ENABLED: 'true',
          HEALTH_CHECK_CRON: '0 0 0 1 1 *', // rounds never come by themselves here: the test runs one
          HEALTH_PROBE_INITIAL_SECONDS: '1',
        },
      });
      try {
        const { ProviderHealthService } = await import('../src/health/provider-health.service.js');
        const id = (
          (await request(s.server).post(`${API}/providers/`).set(s.auth).send(sesProviderBody()).expect(201)).body as { id: number }
        ).id;
        await s.app.get(ProviderHealthService).runRound();
        const status = async () =>
          (await request(s.server).get(`${API}/providers/${id}/`).set(s.auth).expect(200)).body as {
            health_status: string;
            ses_account: SesAccountBody;
          };
        expect(await status()).toMatchObject({ health_status: 'unhealthy', ses_account: { sending_enabled: false } });

        ses.setAccount(sesAccount()); // SES lifts the pause; the probe (1 s later) finds it
        const deadline = Date.now() + 15_000;
        while ((await status()).health_status !== 'healthy' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
        expect(await status()).toMatchObject({ health_status: 'healthy', ses_account: { sending_enabled: true } });
        const hist = (await request(s.server).get(`${API}/providers/${id}/health_history/`).set(s.auth).expect(200)).body as {
          results: { trigger: string; healthy: boolean; ses_account: SesAccountBody }[];
        };
        const [latest, ...earlier] = hist.results;
        expect(latest).toMatchObject({ trigger: 'scheduled', healthy: true, ses_account: { sending_enabled: true } });
        expect(earlier.length).toBeGreaterThanOrEqual(1);
        expect(earlier.every((r) => r.trigger === 'scheduled' && !r.healthy)).toBe(true);
      } finally {
        await s.close();
      }
    });
  });

  describe('quota as a limit', () => {
    it('should grant no more than MaxSendRate of many concurrent reservations in a second, from two pools, and say when', async () => {
      const id = await checkedSesProvider(quota(50_000, 2));
      const clock = new ManualClock('2026-03-10T12:00:00Z');
      const [a, b] = limiters(clock);
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).tryReserve(id)));
      expect(granted(results)).toHaveLength(2);
      expect(results.find((r) => !r.granted)).toEqual({
        granted: false,
        refusedBy: 'ses_rate',
        notBefore: new Date('2026-03-10T12:00:01Z'),
      });
      expect(await a.canSendNow(id)).toBe(false);
      clock.set('2026-03-10T12:00:00.999Z');
      expect((await a.tryReserve(id)).granted).toBe(false);
      clock.set('2026-03-10T12:00:01Z');
      expect(granted(await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).tryReserve(id))))).toHaveLength(2);
    });

    it('should never let a one-second span exceed MaxSendRate, and grant whenever there is room (property)', async () => {
      const id = await checkedSesProvider(quota(50_000, 2));
      const start = Date.parse('2026-03-10T12:00:00Z');
      const clock = new ManualClock(new Date(start));
      const [rl] = limiters(clock);
      let offset = 0; // each run later than the last, so runs do not see each other's reservations
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ at: fc.integer({ min: 0, max: 5_000 }), release: fc.boolean() }), { minLength: 1, maxLength: 25 }),
          async (arrivals) => {
            offset += 120_000;
            const held: number[] = [];
            for (const { at, release } of [...arrivals].sort((x, y) => x.at - y.at)) {
              clock.set(new Date(start + offset + at));
              const result = await rl.tryReserve(id);
              expect(result.granted).toBe(held.filter((h) => h > at - 1000).length < 2);
              if (!result.granted) continue;
              if (release) await rl.release(result.reservation);
              else {
                await rl.commit(result.reservation);
                held.push(at);
              }
            }
            for (const s of held) expect(held.filter((h) => h >= s && h < s + 1000).length).toBeLessThanOrEqual(2);
          },
        ),
        { numRuns: 20 },
      );
    });

    it('should let the stricter of MaxSendRate and rate_limit_per_minute win', async () => {
      const id = await checkedSesProvider(quota(50_000, 2), { rate_limit_per_minute: 3 });
      const clock = new ManualClock('2026-03-10T12:00:00Z');
      const [rl] = limiters(clock);
      const counts: number[] = [];
      for (let s = 0; s < 4; s++) {
        clock.set(new Date(Date.parse('2026-03-10T12:00:00Z') + s * 1000));
        counts.push(granted(await Promise.all(Array.from({ length: 10 }, () => rl.tryReserve(id)))).length);
      }
      expect(counts).toEqual([2, 1, 0, 0]); // 2 per second, 3 per minute
      expect(await rl.tryReserve(id)).toMatchObject({ granted: false, refusedBy: 'minute', notBefore: new Date('2026-03-10T12:01:00Z') });
    });

    it('should refuse the 6th send in 24 hours with Max24HourSend 5, whatever daily_limit says, and roll by the hour', async () => {
      const id = await checkedSesProvider(quota(5, 100), { daily_limit: 1000 });
      const h = Math.floor(Date.now() / HOUR) * HOUR; // the current UTC hour: the check was just now
      const clock = new ManualClock(new Date(h + 30 * 60_000));
      const [a, b] = limiters(clock);
      const first = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).tryReserve(id)));
      expect(granted(first)).toHaveLength(5);
      expect(first.find((r) => !r.granted)).toEqual({ granted: false, refusedBy: 'ses_24h', notBefore: new Date(h + 25 * HOUR) });
      const [r1, r2, r3, r4, r5] = granted(first);
      await a.release(r5); // given back: room for one more
      const sixth = await a.tryReserve(id);
      expect(sixth.granted).toBe(true);
      for (const r of [r1, r2, r3, r4, sixth.granted ? sixth.reservation : r5]) await a.commit(r);
      expect(await a.tryReserve(id)).toMatchObject({ granted: false, refusedBy: 'ses_24h' });

      // Counted by the whole hour that held them, so never too few: still refused 24 h 40 min later.
      clock.set(new Date(h + 24 * HOUR + 40 * 60_000));
      expect(await a.tryReserve(id)).toEqual({ granted: false, refusedBy: 'ses_24h', notBefore: new Date(h + 25 * HOUR) });
      clock.set(new Date(h + 25 * HOUR - 1));
      expect((await a.tryReserve(id)).granted).toBe(false);
      clock.set(new Date(h + 25 * HOUR));
      const later = granted(await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).tryReserve(id))));
      expect(later).toHaveLength(5);
    });

    it('should free the hours one by one as they leave the 24 hours', async () => {
      const id = await checkedSesProvider(quota(5, 100));
      const h = Math.floor(Date.now() / HOUR) * HOUR;
      const clock = new ManualClock(new Date(h + 10 * 60_000));
      const [rl] = limiters(clock);
      for (const r of granted(await Promise.all(Array.from({ length: 3 }, () => rl.tryReserve(id))))) await rl.commit(r);
      clock.set(new Date(h + 10 * HOUR + 5 * 60_000));
      for (const r of granted(await Promise.all(Array.from({ length: 2 }, () => rl.tryReserve(id))))) await rl.commit(r);
      expect(await rl.tryReserve(id)).toMatchObject({ refusedBy: 'ses_24h', notBefore: new Date(h + 25 * HOUR) });
      clock.set(new Date(h + 25 * HOUR));
      expect(granted(await Promise.all(Array.from({ length: 5 }, () => rl.tryReserve(id))))).toHaveLength(3);
      expect(await rl.tryReserve(id)).toEqual({ granted: false, refusedBy: 'ses_24h', notBefore: new Date(h + 35 * HOUR) });
    });

    it("should count the account's other senders (SentLast24Hours less this service's own) until 24 h after the check", async () => {
      const id = await create(sesProviderBody());
      const clock = new ManualClock(new Date());
      const [rl] = limiters(clock);
      const ours: number[] = [];
      for (const r of granted(await Promise.all(Array.from({ length: 3 }, () => rl.tryReserve(id))))) {
        await rl.commit(r);
        ours.push(clock.now().getTime());
      }

      // SES has counted 7: our 3 and 4 from some other system on the account. 10 - 7 = 3 left.
      ses.setAccount(quota(10, 100, 7));
      const checkedAt = Date.parse((await check(id)).body.last_health_check as string);
      clock.set(new Date(checkedAt));
      const results = await Promise.all(Array.from({ length: 10 }, () => rl.tryReserve(id)));
      expect(granted(results)).toHaveLength(3);
      ours.push(checkedAt, checkedAt, checkedAt);
      expect(results.find((r) => !r.granted)).toMatchObject({
        refusedBy: 'ses_24h',
        notBefore: new Date(Math.min(checkedAt + 24 * HOUR, Math.floor(Math.min(...ours) / HOUR) * HOUR + 25 * HOUR)),
      });
      expect(await rowOf('/providers/health_status/', id)).toMatchObject({ can_send_email: false });

      // 24 h after the check the others' sends have left SES's window; ours count while their hour overlaps the last 24 h.
      clock.set(new Date(checkedAt + 24 * HOUR));
      const stillCounted = ours.filter((at) => Math.floor(at / HOUR) >= Math.floor((checkedAt + 24 * HOUR) / HOUR) - 24).length;
      expect(stillCounted).toBeGreaterThanOrEqual(3);
      expect(granted(await Promise.all(Array.from({ length: 10 }, () => rl.tryReserve(id))))).toHaveLength(10 - stillCounted);
    });

    it('should apply only the configured limits before a first successful check', async () => {
      ses.setAccount(quota(1, 1)); // never read: no check runs
      const unchecked = await create(sesProviderBody({ rate_limit_per_minute: 30 }));
      const [rl] = limiters(new ManualClock('2026-03-10T12:00:00Z'));
      expect(granted(await Promise.all(Array.from({ length: 50 }, () => rl.tryReserve(unchecked))))).toHaveLength(30);
    });

    it('should answer 429 with Retry-After on a test send when the SES quota is used up', async () => {
      const id = await checkedSesProvider(quota(1, 100));
      const [rl] = limiters({ now: () => new Date() });
      expect((await rl.tryReserve(id)).granted).toBe(true);
      const res = await request(t.server).post(`${API}/providers/${id}/test/`).set(t.auth).send({ test_email: 'to@example.com' });
      expect(res.status).toBe(429);
      expect(res.body.detail).toContain('ses_24h');
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(24 * 3600 - 60);
    });
  });
});
