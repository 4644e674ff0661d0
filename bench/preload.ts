/**
 * Fills a service's database with old messages in final states (sent / failed), their attempts
 * and the matching daily aggregates, straight in SQL with generate_series, then VACUUM ANALYZE and
 * a CHECKPOINT:
 * what a table looks like after weeks of traffic, for `bench:send --preload N`.
 *
 * The service must have created the schema (it migrates at start) and must be stopped while
 * this runs on an embedded PGlite (it serves one process).
 */
import pg from 'pg';

/** How far back the old messages go: under MESSAGE_RETENTION_DAYS' default (90), so none is due for deletion. */
export const PRELOAD_DAYS = 80;
/** Rows per INSERT statement: keeps each statement's memory small, on PGlite too. */
const CHUNK = 100_000;

export interface PreloadResult {
  messages: number;
  sent: number;
  attempts: number;
  seconds: number;
  tableSize: string;
}

/**
 * `n` messages spread evenly over the last PRELOAD_DAYS days, ids in time order as real traffic
 * leaves them: 1 in 20 failed after 3 attempts, 1 in 10 sent at the second attempt, the rest sent
 * at the first. Bodies are kept only on messages younger than `bodyDays` (older ones as a body
 * retention would leave them: no text, `body_dropped_at` set); every message has its attempts, all on `providerId`.
 */
export async function preloadOldMessages(
  client: pg.Client,
  providerId: number,
  n: number,
  bodyDays: number,
  text: string,
): Promise<PreloadResult> {
  const t0 = performance.now();
  const [{ before }] = (await client.query(`SELECT coalesce(max(id), 0)::bigint AS before FROM messages`)).rows;
  for (let from = 1; from <= n; from += CHUNK) {
    const to = Math.min(n, from + CHUNK - 1);
    await client.query(
      `INSERT INTO messages (status, message_id, from_email, to_addresses, subject, text_body, provider_id, next_attempt_at,
                             attempt_count, last_error, created_at, updated_at, sent_at, failed_at, body_dropped_at)
       SELECT CASE WHEN g % 20 = 0 THEN 'failed' ELSE 'sent' END,
              '<old-' || g || '@bench.local>', 'bench@example.com', jsonb_build_array('old' || g || '@example.com'),
              'Old message ' || g,
              CASE WHEN t.at > now() - make_interval(days => $5) THEN $6 END,
              $4, t.at,
              CASE WHEN g % 20 = 0 THEN 3 WHEN g % 10 = 1 THEN 2 ELSE 1 END,
              CASE WHEN g % 20 = 0 THEN '421 try again later' END,
              t.at - interval '2 seconds', t.at,
              CASE WHEN g % 20 <> 0 THEN t.at END,
              CASE WHEN g % 20 = 0 THEN t.at END,
              CASE WHEN t.at > now() - make_interval(days => $5) THEN NULL ELSE t.at + make_interval(days => $5) END
         FROM generate_series($1::bigint, $2::bigint) g,
              LATERAL (SELECT now() - make_interval(secs => ($3 - g + 1) * ${PRELOAD_DAYS} * 86400.0 / $3) AS at) t
        ORDER BY g`,
      [from, to, n, providerId, bodyDays, text],
    );
  }
  const [{ after }] = (await client.query(`SELECT max(id)::bigint AS after FROM messages`)).rows;
  // Attempts 30 s apart, the last one at the message's final time.
  for (let from = BigInt(before) + 1n; from <= BigInt(after); from += BigInt(CHUNK)) {
    const to = from + BigInt(CHUNK) - 1n;
    await client.query(
      `INSERT INTO send_attempts (message_id, provider_id, started_at, response_time_ms, outcome, smtp_code, smtp_reply)
       SELECT m.id, m.provider_id, m.updated_at - (m.attempt_count - a) * interval '30 seconds', 50 + (m.id * 37) % 900,
              CASE WHEN m.status = 'sent' AND a = m.attempt_count THEN 'accepted' ELSE 'provider_failure' END,
              CASE WHEN m.status = 'sent' AND a = m.attempt_count THEN 250 ELSE 421 END,
              CASE WHEN m.status = 'sent' AND a = m.attempt_count THEN '250 OK' ELSE '421 try again later' END
         FROM messages m, generate_series(1, m.attempt_count) a
        WHERE m.id BETWEEN $1 AND $2
        ORDER BY m.id, a`,
      [String(from), String(to)],
    );
  }
  // What recording those attempts one by one would have added to the daily aggregates.
  await client.query(
    `INSERT INTO provider_daily_stats AS s (provider_id, day, attempts, accepted, response_time_ms_sum)
     SELECT provider_id, (started_at AT TIME ZONE 'UTC')::date, count(*), count(*) FILTER (WHERE outcome = 'accepted'), sum(response_time_ms)
       FROM send_attempts WHERE message_id BETWEEN $1 AND $2 GROUP BY 1, 2
     ON CONFLICT (provider_id, day) DO UPDATE
       SET attempts = s.attempts + EXCLUDED.attempts, accepted = s.accepted + EXCLUDED.accepted,
           response_time_ms_sum = s.response_time_ms_sum + EXCLUDED.response_time_ms_sum`,
    [String(BigInt(before) + 1n), String(after)],
  );
  await client.query(`VACUUM ANALYZE`);
  // Write the preload's dirty pages now, not in a checkpoint during the timed part (needs a superuser or pg_checkpoint).
  await client.query(`CHECKPOINT`).catch(() => undefined);
  const [counts] = (
    await client.query(
      `SELECT (SELECT count(*) FROM messages WHERE id > $1 AND status = 'sent')::int AS sent,
              (SELECT count(*) FROM send_attempts WHERE message_id > $1)::int AS attempts,
              pg_size_pretty(pg_total_relation_size('messages') + pg_total_relation_size('send_attempts')) AS size`,
      [String(before)],
    )
  ).rows;
  return { messages: n, sent: counts.sent, attempts: counts.attempts, seconds: (performance.now() - t0) / 1000, tableSize: counts.size };
}
