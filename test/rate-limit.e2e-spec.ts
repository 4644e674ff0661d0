import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/database/data-source-options.js';
import { systemClock, type Clock } from '../src/rate-limit/clock.js';
import { RateLimitRepository } from '../src/rate-limit/rate-limit.repository.js';
import { RateLimitService } from '../src/rate-limit/rate-limit.service.js';
import type { Reservation } from '../src/rate-limit/rate-limit.types.js';
import { API, startApp, type TestApp } from './support/app.js';
import { ManualClock } from './support/clock.js';
import { smtpProviderBody } from './support/factories.js';

const NO_LIMITS = { daily_limit: null, monthly_limit: null, rate_limit_per_minute: null };

describe('Rate limits (minute window, UTC day and month) on one database', () => {
  let t: TestApp;
  /** A second connection pool on the same database, as a second instance has (server mode only). */
  let otherPool: DataSource | null = null;
  const limiter = (clock: Clock = new ManualClock('2026-03-10T12:00:00Z'), dataSource = t.app.get(DataSource)) =>
    new RateLimitService(new RateLimitRepository(dataSource), clock);
  const provider = async (limits: Record<string, number | null>) =>
    (
      (
        await request(t.server)
          .post(`${API}/providers/`)
          .set(t.auth)
          .send(smtpProviderBody({ ...NO_LIMITS, ...limits }))
          .expect(201)
      ).body as {
        id: number;
      }
    ).id;
  const granted = (results: Awaited<ReturnType<RateLimitService['tryReserve']>>[]) =>
    results.filter((r): r is { granted: true; reservation: Reservation } => r.granted).map((r) => r.reservation);

  beforeAll(async () => {
    t = await startApp();
    if (t.db.server) {
      otherPool = new DataSource(dataSourceOptions({ url: t.db.env.DATABASE_URL as string }, 10));
      await otherPool.initialize();
    }
  });
  afterAll(async () => {
    await otherPool?.destroy();
    await t.close();
  });

  it('should grant exactly daily_limit of 500 concurrent reservations made through two connection pools', async () => {
    const id = await provider({ daily_limit: 100 });
    const clock = new ManualClock('2026-03-10T12:00:00Z');
    const a = limiter(clock);
    const b = otherPool ? limiter(clock, otherPool) : limiter(clock);
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => (i % 2 ? a : b).tryReserve(id)));
    expect(granted(results)).toHaveLength(100);
    const refusal = results.find((r) => !r.granted);
    expect(refusal).toEqual({ granted: false, refusedBy: 'day', notBefore: new Date('2026-03-11T00:00:00Z') });
  });

  it('should grant exactly rate_limit_per_minute of 500 concurrent reservations and say when the next one fits', async () => {
    const id = await provider({ rate_limit_per_minute: 20 });
    const clock = new ManualClock('2026-03-10T12:00:00Z');
    const a = limiter(clock);
    const b = otherPool ? limiter(clock, otherPool) : limiter(clock);
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => (i % 2 ? a : b).tryReserve(id)));
    expect(granted(results)).toHaveLength(20);
    expect(results.find((r) => !r.granted)).toEqual({ granted: false, refusedBy: 'minute', notBefore: new Date('2026-03-10T12:01:00Z') });
  });

  it('should settle many concurrent reservations from two pools without deadlock and count each once', async () => {
    const id = await provider({ daily_limit: 1000, rate_limit_per_minute: 1000 });
    const clock = new ManualClock('2026-03-10T12:00:00Z');
    const pools = [limiter(clock), otherPool ? limiter(clock, otherPool) : limiter(clock)];
    const outcomes = await Promise.all(
      Array.from({ length: 300 }, async (_, i) => {
        const rl = pools[i % 2];
        const r = await rl.tryReserve(id);
        if (!r.granted) throw new Error(`refused by ${r.refusedBy}`);
        if (i % 3 === 0) await rl.release(r.reservation);
        else await rl.commit(r.reservation);
        return i % 3 === 0 ? 'released' : 'committed';
      }),
    );
    const committed = outcomes.filter((o) => o === 'committed').length;
    expect((await pools[0].usage([id])).get(id)).toEqual({ sentToday: committed, sentThisMonth: committed });
    const rows = await t.app
      .get(DataSource)
      .query(`SELECT period, reserved FROM provider_usage WHERE provider_id = $1 ORDER BY period`, [id]);
    expect(rows).toEqual([
      { period: 'd', reserved: committed },
      { period: 'm', reserved: committed },
    ]);
  });

  it('should grant exactly the tightest limit when batches of every size race from two pools', async () => {
    const id = await provider({ daily_limit: 137, rate_limit_per_minute: 400 });
    const clock = new ManualClock('2026-03-10T12:00:00Z');
    const pools = [limiter(clock), otherPool ? limiter(clock, otherPool) : limiter(clock)];
    const sizes = Array.from({ length: 60 }, (_, i) => 1 + ((i * 7) % 13));
    const results = (await Promise.all(sizes.map((n, i) => pools[i % 2].tryReserveMany(id, n)))).flat();
    expect(results).toHaveLength(sizes.reduce((a, b) => a + b, 0));
    const reservations = granted(results);
    expect(reservations).toHaveLength(137);
    expect(new Set(reservations.map((r) => r.id)).size).toBe(137);
    expect(results.find((r) => !r.granted)).toEqual({ granted: false, refusedBy: 'day', notBefore: new Date('2026-03-11T00:00:00Z') });
  });

  it('should grant part of a batch up to the minute limit and say when the rest fits', async () => {
    const id = await provider({ rate_limit_per_minute: 5 });
    const clock = new ManualClock('2026-03-10T12:00:00Z');
    const rl = limiter(clock);
    expect(granted(await rl.tryReserveMany(id, 3))).toHaveLength(3);
    clock.set('2026-03-10T12:00:30Z');
    const batch = await rl.tryReserveMany(id, 4);
    expect(batch.map((r) => r.granted)).toEqual([true, true, false, false]);
    expect(batch[3]).toEqual({ granted: false, refusedBy: 'minute', notBefore: new Date('2026-03-10T12:01:00Z') });
    // Settling a batch at once counts each reservation in its own day, as single settles do.
    const mine = granted(batch);
    await rl.settle([
      { reservation: mine[0], accepted: true },
      { reservation: mine[1], accepted: false },
    ]);
    expect((await rl.usage([id])).get(id)).toEqual({ sentToday: 1, sentThisMonth: 1 });
    expect(await rl.settle([{ reservation: mine[0], accepted: true }])).toBe(0);
  });

  it('should keep the limit exact through the batching reserve() path', async () => {
    const id = await provider({ daily_limit: 50 });
    const clock = new ManualClock('2026-03-10T12:00:00Z');
    const rl = limiter(clock);
    const before = Number((await t.app.get(DataSource).query(`SELECT count(*) AS n FROM rate_limit_reservations`))[0].n);
    const results = await Promise.all(Array.from({ length: 80 }, () => rl.reserve(id)));
    expect(granted(results)).toHaveLength(50);
    expect(results.filter((r) => !r.granted)).toHaveLength(30);
    const after = Number((await t.app.get(DataSource).query(`SELECT count(*) AS n FROM rate_limit_reservations`))[0].n);
    expect(after - before).toBe(50);
  });

  it('should slide the minute window rather than reset it at the minute boundary', async () => {
    const id = await provider({ rate_limit_per_minute: 10 });
    const clock = new ManualClock('2026-03-10T12:00:59.500Z');
    const rl = limiter(clock);
    expect(granted(await Promise.all(Array.from({ length: 10 }, () => rl.tryReserve(id))))).toHaveLength(10);
    clock.set('2026-03-10T12:01:00.500Z'); // a fixed per-minute counter would allow 10 more here
    expect(await rl.tryReserve(id)).toEqual({ granted: false, refusedBy: 'minute', notBefore: new Date('2026-03-10T12:01:59.500Z') });
    clock.set('2026-03-10T12:01:59.499Z');
    expect((await rl.tryReserve(id)).granted).toBe(false);
    clock.set('2026-03-10T12:01:59.500Z');
    expect((await rl.tryReserve(id)).granted).toBe(true);
  });

  it('should give a released reservation back to the minute and the day, but not a committed one', async () => {
    const id = await provider({ rate_limit_per_minute: 3, daily_limit: 5 });
    const clock = new ManualClock('2026-03-10T12:00:00Z');
    const rl = limiter(clock);
    const [r1, r2, r3] = granted([await rl.tryReserve(id), await rl.tryReserve(id), await rl.tryReserve(id)]);
    expect((await rl.tryReserve(id)).granted).toBe(false);
    await rl.commit(r1);
    await rl.commit(r2);
    expect((await rl.tryReserve(id)).granted).toBe(false);
    await rl.release(r3);
    const again = await rl.tryReserve(id);
    expect(again.granted).toBe(true);
    await rl.release(r3); // a second release of the same reservation changes nothing
    expect((await rl.tryReserve(id)).granted).toBe(false);

    clock.advance(61_000);
    const [r5, r6] = granted([await rl.tryReserve(id), await rl.tryReserve(id)]);
    expect(r5 && r6).toBeTruthy();
    expect(await rl.tryReserve(id)).toMatchObject({ granted: false, refusedBy: 'day' });
    await rl.release(r6);
    expect((await rl.tryReserve(id)).granted).toBe(true);
    expect((await rl.usage([id])).get(id)).toEqual({ sentToday: 2, sentThisMonth: 2 });
  });

  it('should roll the day over at UTC midnight and the month at the first of the month, without any job', async () => {
    const id = await provider({ daily_limit: 2, monthly_limit: 3 });
    const clock = new ManualClock('2026-03-30T23:59:50Z');
    const rl = limiter(clock);
    for (const r of granted([await rl.tryReserve(id), await rl.tryReserve(id)])) await rl.commit(r);
    expect(await rl.tryReserve(id)).toEqual({ granted: false, refusedBy: 'day', notBefore: new Date('2026-03-31T00:00:00Z') });
    expect((await rl.usage([id])).get(id)).toEqual({ sentToday: 2, sentThisMonth: 2 });

    clock.set('2026-03-31T00:00:00Z');
    expect((await rl.usage([id])).get(id)).toEqual({ sentToday: 0, sentThisMonth: 2 });
    const third = await rl.tryReserve(id);
    expect(third.granted).toBe(true);
    expect(await rl.tryReserve(id)).toEqual({ granted: false, refusedBy: 'month', notBefore: new Date('2026-04-01T00:00:00Z') });

    clock.set('2026-04-01T00:00:00Z');
    expect((await rl.tryReserve(id)).granted).toBe(true);
  });

  it('should treat null as unlimited and 0 as nothing, ever', async () => {
    const unlimited = await provider({});
    const rl = limiter();
    expect(granted(await Promise.all(Array.from({ length: 200 }, () => rl.tryReserve(unlimited))))).toHaveLength(200);
    for (const limit of ['daily_limit', 'monthly_limit', 'rate_limit_per_minute']) {
      const closed = await provider({ [limit]: 0 });
      const result = await rl.tryReserve(closed);
      expect(result).toMatchObject({ granted: false, notBefore: null });
      expect(await rl.canSendNow(closed)).toBe(false);
    }
  });

  it('should accept a limit lowered below today’s usage and refuse until the next day', async () => {
    const id = await provider({ daily_limit: 10 });
    const rl = limiter(new ManualClock('2026-03-10T08:00:00Z'));
    for (let i = 0; i < 5; i++) {
      const r = await rl.tryReserve(id);
      if (r.granted) await rl.commit(r.reservation);
    }
    await request(t.server).patch(`${API}/providers/${id}/`).set(t.auth).send({ daily_limit: 3 }).expect(200);
    expect(await rl.tryReserve(id)).toEqual({ granted: false, refusedBy: 'day', notBefore: new Date('2026-03-11T00:00:00Z') });
    expect(await rl.canSendNow(id)).toBe(false);
  });

  it('should answer "can send now" without reserving anything', async () => {
    const id = await provider({ rate_limit_per_minute: 1 });
    const rl = limiter();
    expect(await rl.canSendNow(id)).toBe(true);
    expect(await rl.canSendNow(id)).toBe(true);
    expect((await rl.tryReserve(id)).granted).toBe(true);
    expect(await rl.canSendNow(id)).toBe(false);
  });

  it('should refuse a deleted provider', async () => {
    const id = await provider({});
    await request(t.server).delete(`${API}/providers/${id}/`).set(t.auth).expect(204);
    expect(await limiter().tryReserve(id)).toEqual({ granted: false, refusedBy: 'missing', notBefore: null });
  });

  it('should show committed sends as emails_sent_today and emails_sent_this_month on the provider', async () => {
    const id = await provider({});
    const rl = limiter(systemClock);
    const reservations = granted(await Promise.all(Array.from({ length: 7 }, () => rl.tryReserve(id))));
    for (const r of reservations.slice(0, 5)) await rl.commit(r);
    for (const r of reservations.slice(5)) await rl.release(r);
    const res = await request(t.server).get(`${API}/providers/${id}/`).set(t.auth).expect(200);
    expect(res.body).toMatchObject({ emails_sent_today: 5, emails_sent_this_month: 5 });
    const listed = ((await request(t.server).get(`${API}/providers/`).set(t.auth)).body as { id: number }[]).find((p) => p.id === id);
    expect(listed).toMatchObject({ emails_sent_today: 5, emails_sent_this_month: 5 });
  });

  it('should never let a 60-second span exceed the limit, and grant whenever there is room (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.record({ at: fc.integer({ min: 0, max: 240_000 }), release: fc.boolean() }), { minLength: 1, maxLength: 30 }),
        async (limit, arrivals) => {
          const id = await provider({ rate_limit_per_minute: limit });
          const start = Date.parse('2026-03-10T12:00:00Z');
          const clock = new ManualClock(new Date(start));
          const rl = limiter(clock);
          const held: number[] = []; // times of reservations that count (granted, not released)
          for (const { at, release } of [...arrivals].sort((x, y) => x.at - y.at)) {
            clock.set(new Date(start + at));
            const inWindow = held.filter((h) => h > at - 60_000).length;
            const result = await rl.tryReserve(id);
            expect(result.granted).toBe(inWindow < limit);
            if (!result.granted) continue;
            if (release) await rl.release(result.reservation);
            else {
              await rl.commit(result.reservation);
              held.push(at);
            }
          }
          for (const s of held) expect(held.filter((h) => h >= s && h < s + 60_000).length).toBeLessThanOrEqual(limit);
        },
      ),
      { numRuns: 25 },
    );
  });
});
