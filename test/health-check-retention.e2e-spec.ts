import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { HealthChecksRepository } from '../src/health/health-checks.repository.js';
import { ProviderHealthService } from '../src/health/provider-health.service.js';
import { API, startApp, type TestApp } from './support/app.js';
import { smtpProviderBody } from './support/factories.js';
import { closedPort } from './support/smtp-server.js';

const DAY = 86_400_000;
const RETENTION_DAYS = 30;

/** Health checks older than HEALTH_CHECK_RETENTION_DAYS go at the end of each round, in small batches. */
describe('Health check retention', () => {
  let t: TestApp;
  let ds: DataSource;
  let providerId: number;

  beforeAll(async () => {
    t = await startApp({ env: { HEALTH_CHECK_RETENTION_DAYS: String(RETENTION_DAYS) } });
    ds = t.app.get(DataSource);
    const res = await request(t.server)
      .post(`${API}/providers/`)
      .set(t.auth)
      .send(smtpProviderBody({ name: 'nobody listens', smtp_host: '127.0.0.1', smtp_port: await closedPort() }))
      .expect(201);
    providerId = res.body.id;
  });
  afterAll(async () => t?.close());

  const insertChecks = (n: number, daysAgo: number) =>
    ds.query(
      `INSERT INTO health_checks (provider_id, checked_at, trigger, healthy, latency_ms)
       SELECT $1, now() - make_interval(days => $2) - make_interval(secs => g), 'scheduled', true, 5 FROM generate_series(1, $3) g`,
      [providerId, daysAgo, n],
    );
  const count = async (olderThanDays: number) =>
    Number(
      (
        await ds.query(`SELECT count(*)::int AS n FROM health_checks WHERE checked_at < now() - make_interval(days => $1)`, [olderThanDays])
      )[0].n,
    );

  it('a backlog larger than one batch goes entirely; younger checks stay', async () => {
    await insertChecks(2_345, RETENTION_DAYS + 5);
    await insertChecks(3, RETENTION_DAYS - 1);
    await t.app.get(ProviderHealthService).runRound();
    expect(await count(RETENTION_DAYS)).toBe(0);
    expect(await count(RETENTION_DAYS - 2)).toBe(3);
    // The round's own check of the provider was recorded too.
    expect(await count(-1)).toBe(3 + 1);
  });

  it('with batches smaller than the backlog, every old check goes and the count is answered', async () => {
    await insertChecks(25, RETENTION_DAYS + 1);
    const repo = t.app.get(HealthChecksRepository);
    expect(await repo.pruneBefore(new Date(Date.now() - RETENTION_DAYS * DAY), 10)).toBe(25);
    expect(await count(RETENTION_DAYS)).toBe(0);
  });
});
