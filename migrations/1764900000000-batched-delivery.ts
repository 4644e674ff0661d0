import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The batched delivery pipeline (issue #12):
 * - `rate_limit_reserve(provider, now, count)`: one decision grants up to `count` sends under the
 *   provider's row lock, exactly as `count` single decisions in a row would, and says which limit
 *   refused the rest and from when (by asking `rate_limit_decide` on the state it just wrote).
 * - `rate_limit_settle_many(ids, accepted, now)`: settles a batch of reservations. It touches the
 *   usage rows in one global order (every day row by provider, then every month row, then the
 *   hour rows), so concurrent settles and reservations never deadlock.
 * - `providers_version`: a counter every committed change to `providers` moves, so an instance can
 *   keep the sending order in memory and reload it only when it moved. It is bumped by a deferred
 *   constraint trigger: at commit, after the transaction took every other lock it needs, so the
 *   one shared row it waits for can never be part of a deadlock.
 */
export class BatchedDelivery1764900000000 implements MigrationInterface {
  name = 'BatchedDelivery1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION rate_limit_reserve(p_provider integer, p_now timestamptz, p_count integer)
      RETURNS TABLE (reservation_ids bigint[], refused_by text, retry_at timestamptz)
      LANGUAGE plpgsql AS $fn$
      DECLARE
        v_minute integer; v_day integer; v_month integer;
        v_ses boolean; v_rate float8; v_24h float8; v_others float8; v_checked timestamptz;
        v_day_start date := (p_now AT TIME ZONE 'UTC')::date;
        v_month_start date := date_trunc('month', p_now AT TIME ZONE 'UTC')::date;
        v_hour timestamp := date_trunc('hour', p_now AT TIME ZONE 'UTC');
        v_grant integer := greatest(p_count, 0);
        v_used float8; v_cap float8; v_span interval; v_ids bigint[] := '{}';
        v_refused text := NULL; v_retry timestamptz := NULL;
      BEGIN
        -- The row lock is what serialises decisions for one provider across every instance.
        SELECT rate_limit_per_minute, daily_limit, monthly_limit, provider_type = 'aws_ses',
               ses_max_send_rate, ses_max_24_hour_send, ses_sent_by_others_24h, ses_checked_at
          INTO v_minute, v_day, v_month, v_ses, v_rate, v_24h, v_others, v_checked
          FROM providers WHERE id = p_provider AND deleted_at IS NULL FOR NO KEY UPDATE;
        IF NOT FOUND THEN
          RETURN QUERY SELECT '{}'::bigint[], 'missing'::text, NULL::timestamptz;
          RETURN;
        END IF;
        IF NOT v_ses THEN v_rate := NULL; v_24h := NULL; END IF;
        IF v_24h < 0 THEN v_24h := NULL; END IF;

        -- As in rate_limit_decide: forget what no window needs any more.
        DELETE FROM rate_limit_reservations
         WHERE provider_id = p_provider AND reserved_at <= p_now - interval '60 seconds'
           AND (committed_at IS NOT NULL OR reserved_at < p_now - interval '1 hour');
        IF v_ses THEN
          DELETE FROM provider_hourly_usage WHERE provider_id = p_provider AND hour_start < v_hour - interval '25 hours';
        END IF;

        -- Each limit leaves room for so many more sends; the grant is the smallest room.
        IF v_minute IS NOT NULL THEN
          SELECT count(*) INTO v_used FROM rate_limit_reservations
           WHERE provider_id = p_provider AND reserved_at > p_now - interval '60 seconds';
          v_grant := least(v_grant, greatest(v_minute - v_used, 0)::integer);
        END IF;
        IF v_day IS NOT NULL AND v_grant > 0 THEN
          SELECT coalesce(max(reserved), 0) INTO v_used FROM provider_usage
           WHERE provider_id = p_provider AND period = 'd' AND period_start = v_day_start;
          v_grant := least(v_grant, greatest(v_day - v_used, 0)::integer);
        END IF;
        IF v_month IS NOT NULL AND v_grant > 0 THEN
          SELECT coalesce(max(reserved), 0) INTO v_used FROM provider_usage
           WHERE provider_id = p_provider AND period = 'm' AND period_start = v_month_start;
          v_grant := least(v_grant, greatest(v_month - v_used, 0)::integer);
        END IF;
        IF v_rate IS NOT NULL AND v_grant > 0 THEN
          IF v_rate <= 0 THEN
            v_grant := 0;
          ELSE
            v_span := make_interval(secs => least(60, greatest(1, 1 / v_rate)));
            SELECT count(*) INTO v_used FROM rate_limit_reservations
             WHERE provider_id = p_provider AND reserved_at > p_now - v_span;
            v_grant := least(v_grant, greatest(greatest(1, floor(v_rate)) - v_used, 0)::integer);
          END IF;
        END IF;
        IF v_24h IS NOT NULL AND v_grant > 0 THEN
          SELECT coalesce(sum(reserved), 0) INTO v_used FROM provider_hourly_usage
           WHERE provider_id = p_provider AND hour_start >= v_hour - interval '24 hours';
          v_cap := v_24h;
          IF v_checked > p_now - interval '24 hours' THEN v_cap := v_24h - coalesce(v_others, 0); END IF;
          -- A single decision allows one more send while fewer than the cap were counted.
          v_grant := least(v_grant, greatest(ceil(v_cap - v_used), 0)::integer);
        END IF;

        IF v_grant > 0 THEN
          WITH granted AS (
            INSERT INTO rate_limit_reservations (provider_id, reserved_at, hourly)
            SELECT p_provider, p_now, v_ses FROM generate_series(1, v_grant) RETURNING id)
          SELECT array_agg(id ORDER BY id) INTO v_ids FROM granted;
          INSERT INTO provider_usage (provider_id, period, period_start, reserved)
          VALUES (p_provider, 'd', v_day_start, v_grant), (p_provider, 'm', v_month_start, v_grant)
          ON CONFLICT (provider_id, period, period_start) DO UPDATE SET reserved = provider_usage.reserved + EXCLUDED.reserved;
          IF v_ses THEN
            INSERT INTO provider_hourly_usage (provider_id, hour_start, reserved) VALUES (p_provider, v_hour, v_grant)
            ON CONFLICT (provider_id, hour_start) DO UPDATE SET reserved = provider_hourly_usage.reserved + EXCLUDED.reserved;
          END IF;
        END IF;

        IF v_grant < p_count THEN
          -- Why the rest was refused, and when one more could be allowed, on the state just written
          -- (the row lock is still ours).
          SELECT d.refused_by, d.retry_at INTO v_refused, v_retry FROM rate_limit_decide(p_provider, p_now, false) d;
        END IF;
        RETURN QUERY SELECT v_ids, v_refused, v_retry;
      END
      $fn$`);

    await q.query(`
      CREATE FUNCTION rate_limit_settle_many(p_ids bigint[], p_accepted boolean[], p_now timestamptz)
      RETURNS integer
      LANGUAGE plpgsql AS $fn$
      DECLARE
        v_rows jsonb; v_settled integer; v_row record;
      BEGIN
        WITH input AS (
          SELECT * FROM unnest(p_ids, p_accepted) AS i (id, accepted)),
        committed AS (
          UPDATE rate_limit_reservations r SET committed_at = p_now FROM input i
           WHERE r.id = i.id AND i.accepted AND r.committed_at IS NULL
          RETURNING r.provider_id, r.reserved_at, r.hourly, 1 AS sent, 0 AS back),
        released AS (
          DELETE FROM rate_limit_reservations r USING input i
           WHERE r.id = i.id AND NOT i.accepted AND r.committed_at IS NULL
          RETURNING r.provider_id, r.reserved_at, r.hourly, 0 AS sent, 1 AS back),
        settled AS (SELECT * FROM committed UNION ALL SELECT * FROM released)
        SELECT coalesce(jsonb_agg(jsonb_build_object(
                 'provider_id', provider_id, 'reserved_at', reserved_at, 'hourly', hourly, 'sent', sent, 'back', back)), '[]'),
               count(*)
          INTO v_rows, v_settled FROM settled;

        -- Counted in each reservation's own UTC day and month; days first, then months, then hours.
        FOR v_row IN
          SELECT x.provider_id, p.period, p.period_start, sum(x.sent)::integer AS sent, sum(x.back)::integer AS back
            FROM jsonb_to_recordset(v_rows) AS x (provider_id integer, reserved_at timestamptz, hourly boolean, sent integer, back integer)
           CROSS JOIN LATERAL (VALUES ('d', (x.reserved_at AT TIME ZONE 'UTC')::date),
                                      ('m', date_trunc('month', x.reserved_at AT TIME ZONE 'UTC')::date)) AS p (period, period_start)
           GROUP BY x.provider_id, p.period, p.period_start
           ORDER BY p.period, x.provider_id, p.period_start
        LOOP
          UPDATE provider_usage SET sent = sent + v_row.sent, reserved = reserved - v_row.back
           WHERE provider_id = v_row.provider_id AND period = v_row.period AND period_start = v_row.period_start;
        END LOOP;
        FOR v_row IN
          SELECT x.provider_id, date_trunc('hour', x.reserved_at AT TIME ZONE 'UTC') AS hour_start, sum(x.back)::integer AS back
            FROM jsonb_to_recordset(v_rows) AS x (provider_id integer, reserved_at timestamptz, hourly boolean, sent integer, back integer)
           WHERE x.hourly AND x.back > 0
           GROUP BY 1, 2 ORDER BY 1, 2
        LOOP
          UPDATE provider_hourly_usage SET reserved = greatest(reserved - v_row.back, 0)
           WHERE provider_id = v_row.provider_id AND hour_start = v_row.hour_start;
        END LOOP;
        RETURN v_settled;
      END
      $fn$`);

    await q.query(`CREATE TABLE providers_version (one boolean PRIMARY KEY DEFAULT true CHECK (one), version bigint NOT NULL)`);
    await q.query(`INSERT INTO providers_version (version) VALUES (1)`);
    await q.query(`
      CREATE FUNCTION providers_version_bump() RETURNS trigger
      LANGUAGE plpgsql AS $fn$
      BEGIN
        UPDATE providers_version SET version = version + 1;
        RETURN NULL;
      END
      $fn$`);
    await q.query(`
      CREATE CONSTRAINT TRIGGER providers_version_bump AFTER INSERT OR UPDATE OR DELETE ON providers
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION providers_version_bump()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER providers_version_bump ON providers`);
    await q.query(`DROP FUNCTION providers_version_bump()`);
    await q.query(`DROP TABLE providers_version`);
    await q.query(`DROP FUNCTION rate_limit_settle_many(bigint[], boolean[], timestamptz)`);
    await q.query(`DROP FUNCTION rate_limit_reserve(integer, timestamptz, integer)`);
  }
}
