/**
 * GET /providers/statistics/ over a large history: BENCH_ATTEMPTS (2,000,000) send_attempts rows
 * for 20 providers over 60 days, with the matching provider_daily_stats aggregates, written
 * straight into a scratch database with generate_series. The route reads the aggregates only;
 * for contrast, the naive aggregate over send_attempts is timed on the same data.
 *
 *   npm run bench:statistics            (DATABASE_URL defaults to the local server's `test`)
 *
 * The service runs as a child process (`node dist/src/main.js`) on that database; this process
 * times the HTTP round trip.
 */
import os from 'node:os';
import { Fernet } from '../src/credentials/fernet.js';
import { startService } from './processes.js';
import { scratchDatabase } from './support.js';

const ATTEMPTS = Number(process.env.BENCH_ATTEMPTS ?? 2_000_000);
const PROVIDERS = 20;
const DAYS = 60;
const MESSAGES = 20_000; // attempts need a message row (foreign key); ~100 attempts share each, which neither query reads
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200);
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function timed<T>(f: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const r = await f();
  return [performance.now() - t0, r];
}

/** The window the service uses: UTC days from (now - (days - 1) days) to today. */
const WINDOW = `started_at >= ((now() - make_interval(days => $1 - 1)) AT TIME ZONE 'UTC')::date::timestamp AT TIME ZONE 'UTC'`;
const NAIVE = `SELECT provider_id, count(*)::int AS attempts, count(*) FILTER (WHERE outcome = 'accepted')::int AS accepted,
                      avg(response_time_ms)::float8 AS avg_ms
                 FROM send_attempts WHERE ${WINDOW} GROUP BY provider_id`;

async function main(): Promise<void> {
  console.log(
    `${os.cpus().length} × ${os.cpus()[0]?.model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}; load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const { ds, drop } = await scratchDatabase('postgres', 4);
  const url = (ds.options as { url?: string }).url as string;
  try {
    const [setupMs] = await timed(async () => {
      await ds.query(
        `INSERT INTO providers (name, provider_type, smtp_host, smtp_port, from_email, priority)
         SELECT 'stats provider ' || g, 'smtp', 'smtp.example.com', 587, 'bench@example.com', 1 + g % 3 FROM generate_series(1, $1) g`,
        [PROVIDERS],
      );
      await ds.query(
        `INSERT INTO messages (status, message_id, to_addresses, subject, text_body, next_attempt_at, sent_at)
         SELECT 'sent', '<' || g || '@stats.bench>', '["someone@example.com"]', 'Statistics bench', 'x', now(), now()
           FROM generate_series(1, $1) g`,
        [MESSAGES],
      );
      // Spread evenly over the last 60 days (hash-like steps), 5 % provider failures, 50-949 ms.
      await ds.query(
        `INSERT INTO send_attempts (message_id, provider_id, started_at, response_time_ms, outcome, smtp_code, smtp_reply)
         SELECT m.first + g % $2, p.first + g % $3,
                now() - ((g * 7919) % ($4 * 86400)) * interval '1 second',
                50 + (g * 37) % 900,
                CASE WHEN g % 20 = 0 THEN 'provider_failure' ELSE 'accepted' END,
                CASE WHEN g % 20 = 0 THEN 421 ELSE NULL END,
                CASE WHEN g % 20 = 0 THEN '421 try again later' ELSE '250 OK' END
           FROM generate_series(1::bigint, $1) g,
                (SELECT min(id) AS first FROM messages) m,
                (SELECT min(id) AS first FROM providers) p`,
        [ATTEMPTS, MESSAGES, PROVIDERS, DAYS],
      );
      // What recordAttempt() would have accumulated, attempt by attempt.
      await ds.query(
        `INSERT INTO provider_daily_stats (provider_id, day, attempts, accepted, response_time_ms_sum)
         SELECT provider_id, (started_at AT TIME ZONE 'UTC')::date, count(*), count(*) FILTER (WHERE outcome = 'accepted'), sum(response_time_ms)
           FROM send_attempts GROUP BY 1, 2`,
      );
      await ds.query(`VACUUM ANALYZE`);
    });
    const [{ n: attempts }] = await ds.query(`SELECT count(*)::int AS n FROM send_attempts`);
    const [{ n: dailyRows }] = await ds.query(`SELECT count(*)::int AS n FROM provider_daily_stats`);
    const [{ size }] = await ds.query(`SELECT pg_size_pretty(pg_total_relation_size('send_attempts')) AS size`);
    console.log(
      `setup: ${attempts.toLocaleString('en')} send_attempts (${size}), ${dailyRows} provider_daily_stats rows, ` +
        `${PROVIDERS} providers, ${DAYS} days, in ${(setupMs / 1000).toFixed(1)} s`,
    );

    const svc = await startService({
      DATABASE_URL: url,
      NODE_ENV: 'production',
      ADMIN_API_KEY: ADMIN_KEY,
      FERNET_KEYS: Fernet.generateKey(),
      LOG_LEVEL: 'warn',
      SEND_WORKERS_ENABLED: 'false',
    });
    try {
      for (const days of [30, DAYS]) {
        const get = async () => {
          const res = await fetch(`${svc.url}/api/email-provider/providers/statistics/?days=${days}`, {
            headers: { Authorization: `Bearer ${ADMIN_KEY}` },
          });
          if (res.status !== 200) throw new Error(`statistics answered ${res.status}: ${await res.text()}`);
          return (await res.json()) as { provider_id: number; total_attempts: number; success_rate: number | null }[];
        };
        for (let i = 0; i < 20; i++) await get(); // warm-up
        const times: number[] = [];
        let body: Awaited<ReturnType<typeof get>> = [];
        for (let i = 0; i < REQUESTS; i++) {
          const [ms, b] = await timed(get);
          times.push(ms);
          body = b;
        }
        times.sort((a, b) => a - b);

        const naiveTimes: number[] = [];
        let naive: { provider_id: number; attempts: number }[] = [];
        for (let i = 0; i < 5; i++) {
          const [ms, rows] = await timed(() => ds.query(NAIVE, [days]));
          naiveTimes.push(ms);
          naive = rows;
        }
        naiveTimes.sort((a, b) => a - b);
        const aggTimes: number[] = [];
        for (let i = 0; i < 20; i++) {
          const [ms] = await timed(() =>
            ds.query(
              `SELECT provider_id, sum(attempts) FROM provider_daily_stats WHERE day >= ((now() - make_interval(days => $1 - 1)) AT TIME ZONE 'UTC')::date GROUP BY provider_id`,
              [days],
            ),
          );
          aggTimes.push(ms);
        }
        aggTimes.sort((a, b) => a - b);

        const apiTotal = body.reduce((s, r) => s + r.total_attempts, 0);
        const naiveTotal = naive.reduce((s, r) => s + r.attempts, 0);
        if (apiTotal !== naiveTotal || body.length !== PROVIDERS)
          throw new Error(
            `mismatch for ${days} days: the route counts ${apiTotal} attempts over ${body.length} providers, send_attempts ${naiveTotal}`,
          );
        console.log(
          `days=${String(days).padEnd(2)} | GET /providers/statistics/ (HTTP, ${REQUESTS} requests one after another): p50 ${pct(times, 0.5).toFixed(1)} ms, ` +
            `p99 ${pct(times, 0.99).toFixed(1)} ms | its aggregate query alone p50 ${pct(aggTimes, 0.5).toFixed(1)} ms | naive aggregate over send_attempts ` +
            `(${naiveTotal.toLocaleString('en')} rows in the window): p50 ${pct(naiveTimes, 0.5).toFixed(0)} ms, max ${naiveTimes[naiveTimes.length - 1].toFixed(0)} ms | totals agree`,
        );
      }
    } finally {
      await svc.stop();
    }
  } finally {
    await drop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
