import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Reservations and usage counters for the per-minute, daily and monthly limits. The decision is
 * one PL/pgSQL call that locks the provider's row for its duration, so every instance sharing
 * the database sees the same count and no limit is exceeded under any concurrency.
 */
export class RateLimits1764200000000 implements MigrationInterface {
  name = 'RateLimits1764200000000';

  async up(q: QueryRunner): Promise<void> {
    // One row per send in flight or accepted in the last minute: the sliding window.
    await q.query(`
      CREATE TABLE rate_limit_reservations (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        provider_id integer NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
        reserved_at timestamptz NOT NULL,
        committed_at timestamptz
      )`);
    await q.query(`CREATE INDEX rate_limit_reservations_window ON rate_limit_reservations (provider_id, reserved_at)`);

    // Per provider and UTC day ('d') or month ('m'): sends reserved (in flight or accepted) and accepted.
    await q.query(`
      CREATE TABLE provider_usage (
        provider_id integer NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
        period char(1) NOT NULL CHECK (period IN ('d', 'm')),
        period_start date NOT NULL,
        reserved integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
        sent integer NOT NULL DEFAULT 0 CHECK (sent >= 0),
        PRIMARY KEY (provider_id, period, period_start)
      )`);

    // The earliest time all three limits allow one more send, or why never; reserves when asked.
    await q.query(`
      CREATE FUNCTION rate_limit_decide(p_provider integer, p_now timestamptz, p_reserve boolean)
      RETURNS TABLE (reservation_id bigint, refused_by text, retry_at timestamptz)
      LANGUAGE plpgsql AS $fn$
      DECLARE
        v_minute integer; v_day integer; v_month integer;
        v_day_start date := (p_now AT TIME ZONE 'UTC')::date;
        v_month_start date := date_trunc('month', p_now AT TIME ZONE 'UTC')::date;
        v_in_window integer; v_used integer; v_id bigint;
        v_refused text := NULL; v_retry timestamptz := NULL; v_never boolean := false; v_t timestamptz;
      BEGIN
        -- The row lock is what serialises decisions for one provider across every instance.
        IF p_reserve THEN
          SELECT rate_limit_per_minute, daily_limit, monthly_limit INTO v_minute, v_day, v_month
            FROM providers WHERE id = p_provider AND deleted_at IS NULL FOR NO KEY UPDATE;
        ELSE
          SELECT rate_limit_per_minute, daily_limit, monthly_limit INTO v_minute, v_day, v_month
            FROM providers WHERE id = p_provider AND deleted_at IS NULL;
        END IF;
        IF NOT FOUND THEN
          RETURN QUERY SELECT NULL::bigint, 'missing'::text, NULL::timestamptz;
          RETURN;
        END IF;

        IF p_reserve THEN
          -- Accepted sends older than the window no longer matter; nor do reservations abandoned
          -- for an hour (a worker that died mid-send), which stay counted in the day and month.
          DELETE FROM rate_limit_reservations
           WHERE provider_id = p_provider AND reserved_at <= p_now - interval '60 seconds'
             AND (committed_at IS NOT NULL OR reserved_at < p_now - interval '1 hour');
        END IF;

        IF v_minute IS NOT NULL THEN
          SELECT count(*) INTO v_in_window FROM rate_limit_reservations
           WHERE provider_id = p_provider AND reserved_at > p_now - interval '60 seconds';
          IF v_in_window >= v_minute THEN
            v_refused := 'minute';
            IF v_minute = 0 THEN v_never := true;
            ELSE
              -- Free again when enough of the oldest sends in the window have left it.
              SELECT reserved_at + interval '60 seconds' INTO v_t FROM rate_limit_reservations
               WHERE provider_id = p_provider AND reserved_at > p_now - interval '60 seconds'
               ORDER BY reserved_at OFFSET v_in_window - v_minute LIMIT 1;
              v_retry := greatest(v_retry, v_t);
            END IF;
          END IF;
        END IF;

        IF v_day IS NOT NULL THEN
          SELECT reserved INTO v_used FROM provider_usage
           WHERE provider_id = p_provider AND period = 'd' AND period_start = v_day_start;
          IF coalesce(v_used, 0) >= v_day THEN
            v_refused := coalesce(v_refused, 'day');
            IF v_day = 0 THEN v_never := true;
            ELSE v_retry := greatest(v_retry, (v_day_start + 1)::timestamp AT TIME ZONE 'UTC'); END IF;
          END IF;
        END IF;

        IF v_month IS NOT NULL THEN
          SELECT reserved INTO v_used FROM provider_usage
           WHERE provider_id = p_provider AND period = 'm' AND period_start = v_month_start;
          IF coalesce(v_used, 0) >= v_month THEN
            v_refused := coalesce(v_refused, 'month');
            IF v_month = 0 THEN v_never := true;
            ELSE v_retry := greatest(v_retry, (v_month_start + interval '1 month')::timestamp AT TIME ZONE 'UTC'); END IF;
          END IF;
        END IF;

        IF v_refused IS NOT NULL THEN
          RETURN QUERY SELECT NULL::bigint, v_refused, CASE WHEN v_never THEN NULL ELSE v_retry END;
          RETURN;
        END IF;
        IF NOT p_reserve THEN
          RETURN QUERY SELECT NULL::bigint, NULL::text, NULL::timestamptz;
          RETURN;
        END IF;

        INSERT INTO rate_limit_reservations (provider_id, reserved_at) VALUES (p_provider, p_now) RETURNING id INTO v_id;
        INSERT INTO provider_usage (provider_id, period, period_start, reserved)
        VALUES (p_provider, 'd', v_day_start, 1), (p_provider, 'm', v_month_start, 1)
        ON CONFLICT (provider_id, period, period_start) DO UPDATE SET reserved = provider_usage.reserved + 1;
        RETURN QUERY SELECT v_id, NULL::text, NULL::timestamptz;
      END
      $fn$`);

    // Commit (accepted) or release (given back) a pending reservation. Every writer of
    // provider_usage touches the day row before the month row, so writers never deadlock; this one
    // needs no provider lock, so settling does not queue behind decisions.
    await q.query(`
      CREATE FUNCTION rate_limit_settle(p_reservation bigint, p_now timestamptz, p_accepted boolean)
      RETURNS boolean
      LANGUAGE plpgsql AS $fn$
      DECLARE
        v_provider integer; v_reserved_at timestamptz;
        v_sent integer := CASE WHEN p_accepted THEN 1 ELSE 0 END;
        v_given_back integer := CASE WHEN p_accepted THEN 0 ELSE 1 END;
      BEGIN
        IF p_accepted THEN
          UPDATE rate_limit_reservations SET committed_at = p_now
           WHERE id = p_reservation AND committed_at IS NULL RETURNING provider_id, reserved_at INTO v_provider, v_reserved_at;
        ELSE
          DELETE FROM rate_limit_reservations
           WHERE id = p_reservation AND committed_at IS NULL RETURNING provider_id, reserved_at INTO v_provider, v_reserved_at;
        END IF;
        IF v_provider IS NULL THEN RETURN false; END IF;
        -- Counted in the reservation's own UTC day and month, whichever day it is now.
        UPDATE provider_usage SET sent = sent + v_sent, reserved = reserved - v_given_back
         WHERE provider_id = v_provider AND period = 'd' AND period_start = (v_reserved_at AT TIME ZONE 'UTC')::date;
        UPDATE provider_usage SET sent = sent + v_sent, reserved = reserved - v_given_back
         WHERE provider_id = v_provider AND period = 'm' AND period_start = date_trunc('month', v_reserved_at AT TIME ZONE 'UTC')::date;
        RETURN true;
      END
      $fn$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION rate_limit_settle(bigint, timestamptz, boolean)`);
    await q.query(`DROP FUNCTION rate_limit_decide(integer, timestamptz, boolean)`);
    await q.query(`DROP TABLE provider_usage`);
    await q.query(`DROP TABLE rate_limit_reservations`);
  }
}
