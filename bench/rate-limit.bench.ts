/**
 * Reservations per second on the hot path of every send: reserve one send (the PL/pgSQL
 * decision under the provider's row lock), then commit it. For one provider (all callers
 * contend on one row lock) and for ten, on the local PostgreSQL and on embedded PGlite; and for
 * an Amazon SES provider whose quota a check has read (each decision also counts the last second
 * and the hourly buckets of the last 24 hours).
 *
 *   npm run bench:rate-limit            (DATABASE_URL defaults to the local server's `test`)
 */
import { systemClock } from '../src/rate-limit/clock.js';
import { RateLimitRepository } from '../src/rate-limit/rate-limit.repository.js';
import { RateLimitService } from '../src/rate-limit/rate-limit.service.js';
import { measure, scratchDatabase } from './support.js';

const TOTAL = Number(process.env.BENCH_TOTAL ?? 6000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);

async function run(kind: 'postgres' | 'pglite', providers: number, limits: { minute: number | null; day: number | null; ses?: boolean }) {
  const { ds, drop } = await scratchDatabase(kind, CONCURRENCY);
  try {
    const ids: number[] = [];
    for (let i = 0; i < providers; i++) {
      const [row] = limits.ses
        ? await ds.query(
            `INSERT INTO providers (name, provider_type, aws_region, aws_access_key_id, from_email, rate_limit_per_minute, daily_limit,
                                    ses_sending_enabled, ses_max_send_rate, ses_max_24_hour_send, ses_sent_by_others_24h, ses_checked_at)
             VALUES ($1, 'aws_ses', 'eu-west-1', 'AKIAIOSFODNN7EXAMPLE', 'bench@example.com', $2, $3, true, 1000000, 1000000000, 0, now())
             RETURNING id`,
            [`bench ${i}`, limits.minute, limits.day],
          )
        : await ds.query(
            `INSERT INTO providers (name, provider_type, smtp_host, smtp_port, from_email, rate_limit_per_minute, daily_limit, monthly_limit)
             VALUES ($1, 'smtp', 'localhost', 25, 'bench@example.com', $2, $3, NULL) RETURNING id`,
            [`bench ${i}`, limits.minute, limits.day],
          );
      ids.push(row.id);
    }
    const rl = new RateLimitService(new RateLimitRepository(ds), systemClock);
    const concurrency = kind === 'pglite' ? 4 : CONCURRENCY;
    const result = await measure(TOTAL, concurrency, async (i) => {
      const r = await rl.tryReserve(ids[i % ids.length]);
      if (!r.granted) throw new Error(`refused: ${r.refusedBy}`);
      await rl.commit(r.reservation);
    });
    const label = `${kind.padEnd(8)} ${String(providers).padStart(2)} ${limits.ses ? 'SES' : 'SMTP'} provider(s), minute limit ${String(limits.minute ?? 'none').padEnd(5)}`;
    console.log(
      `${label} | ${String(result.perSecond).padStart(6)} reserve+commit/s | p50 ${result.p50.toFixed(2)} ms | p99 ${result.p99.toFixed(2)} ms | ${TOTAL} ops, ${concurrency} in flight`,
    );
  } finally {
    await drop();
  }
}

async function main() {
  for (const kind of ['postgres', 'pglite'] as const) {
    for (const providers of [1, 10]) {
      await run(kind, providers, { minute: null, day: 1_000_000 });
      // A real per-minute limit: every decision counts the sends in the last 60 s.
      await run(kind, providers, { minute: TOTAL, day: 1_000_000 });
    }
    // SES's quota as well: a one-second window and the hourly buckets of the last 24 hours.
    await run(kind, 1, { minute: TOTAL, day: 1_000_000, ses: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
