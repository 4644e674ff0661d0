/**
 * Reservations per second on the hot path of every send: reserve one send (the PL/pgSQL
 * decision under the provider's row lock), then commit it. For one provider (all callers
 * contend on one row lock) and for ten, on the local PostgreSQL and on embedded PGlite; and for
 * an Amazon SES provider whose quota a check has read (each decision also counts the last second
 * and the hourly buckets of the last 24 hours).
 *
 * Two modes: `single` (a decision and a settle per send) and `batched` (the delivery pipeline's
 * way: what is asked of one provider at about the same time is decided in one call, and settles
 * go many at once). Each run checks that every operation was counted once.
 *
 *   npm run bench:rate-limit            (DATABASE_URL defaults to the local server's `test`)
 *   BENCH_DB=postgres BENCH_MODES=batched npm run bench:rate-limit
 */
import { GroupCommit } from '../src/common/batching/group-commit.js';
import { systemClock } from '../src/rate-limit/clock.js';
import { RateLimitRepository } from '../src/rate-limit/rate-limit.repository.js';
import { RateLimitService } from '../src/rate-limit/rate-limit.service.js';
import { measure, scratchDatabase } from './support.js';

const TOTAL = Number(process.env.BENCH_TOTAL ?? 6000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
/** Sends in flight in the batched mode, as a busy delivery pipeline has them (SEND_WORKER_CONCURRENCY × instances). */
const BATCHED_IN_FLIGHT = Number(process.env.BENCH_BATCHED_IN_FLIGHT ?? 256);

type Mode = 'single' | 'batched';

async function run(
  kind: 'postgres' | 'pglite',
  providers: number,
  limits: { minute: number | null; day: number | null; ses?: boolean },
  mode: Mode = 'single',
) {
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
    let result: Awaited<ReturnType<typeof measure>>;
    let concurrency: number;
    if (mode === 'single') {
      // One decision and one settle per send, as before issue #12.
      concurrency = kind === 'pglite' ? 4 : CONCURRENCY;
      result = await measure(TOTAL, concurrency, async (i) => {
        const r = await rl.tryReserve(ids[i % ids.length]);
        if (!r.granted) throw new Error(`refused: ${r.refusedBy}`);
        await rl.commit(r.reservation);
      });
    } else {
      // The delivery pipeline's way: reservations asked at about the same time are decided together
      // (RateLimitService.reserve), and settled many at once (as OutcomeWriter does in its transaction).
      concurrency = BATCHED_IN_FLIGHT;
      const settles = new GroupCommit<Parameters<RateLimitService['settle']>[0][number], void>(async (batch) => {
        await rl.settle(batch);
        return batch.map(() => undefined);
      }, 500);
      result = await measure(TOTAL, concurrency, async (i) => {
        const r = await rl.reserve(ids[i % ids.length]);
        if (!r.granted) throw new Error(`refused: ${r.refusedBy}`);
        await settles.submit({ reservation: r.reservation, accepted: true });
      });
    }
    const [{ sent }] = await ds.query(`SELECT sum(sent)::int AS sent FROM provider_usage WHERE period = 'd'`);
    if (sent !== TOTAL) throw new Error(`counted ${sent} sends for ${TOTAL} operations`);
    const label = `${kind.padEnd(8)} ${mode.padEnd(7)} ${String(providers).padStart(2)} ${limits.ses ? 'SES' : 'SMTP'} provider(s), minute limit ${String(limits.minute ?? 'none').padEnd(5)}`;
    console.log(
      `${label} | ${String(result.perSecond).padStart(6)} reserve+commit/s | p50 ${result.p50.toFixed(2)} ms | p99 ${result.p99.toFixed(2)} ms | ${TOTAL} ops, ${concurrency} in flight`,
    );
  } finally {
    await drop();
  }
}

async function main() {
  const modes = (process.env.BENCH_MODES ?? 'single,batched').split(',') as Mode[];
  for (const kind of (process.env.BENCH_DB ?? 'postgres,pglite').split(',') as ('postgres' | 'pglite')[]) {
    for (const mode of modes) {
      for (const providers of [1, 10]) {
        await run(kind, providers, { minute: null, day: 1_000_000 }, mode);
        // A real per-minute limit: every decision counts the sends in the last 60 s.
        await run(kind, providers, { minute: TOTAL, day: 1_000_000 }, mode);
      }
      // SES's quota as well: a one-second window and the hourly buckets of the last 24 hours.
      await run(kind, 1, { minute: TOTAL, day: 1_000_000, ses: true }, mode);
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
