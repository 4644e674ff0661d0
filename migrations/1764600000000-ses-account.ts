import type { MigrationInterface, QueryRunner } from 'typeorm';
import { RateLimits1764200000000 } from './1764200000000-rate-limits.js';

/**
 * Amazon SES account state and quota (issue #10):
 * - `providers.ses_*`: what SESv2 GetAccount answered at the provider's last check that reached
 *   it (null before one did). `ses_sent_by_others_24h` is the part of SentLast24Hours this service
 *   did not send itself (other systems on the same account), estimated at that check.
 * - `health_checks.details`: the provider type's findings at each check (for SES, the account).
 * - `provider_hourly_usage`: reservations per SES provider and UTC hour, for a rolling 24-hour count;
 *   `rate_limit_reservations.hourly` marks the reservations counted there, so a release gives back
 *   exactly what was taken.
 * - `rate_limit_decide` also keeps SES's MaxSendRate (a sliding one-second window over the
 *   reservations) and Max24HourSend (the hourly buckets that overlap the last 24 hours, plus the
 *   account's other sends); `rate_limit_settle` gives a released reservation back to its hour.
 */
export class SesAccount1764600000000 implements MigrationInterface {
  name = 'SesAccount1764600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE providers
        ADD COLUMN ses_sending_enabled boolean,
        ADD COLUMN ses_enforcement_status varchar(32),
        ADD COLUMN ses_production_access_enabled boolean,
        ADD COLUMN ses_max_24_hour_send double precision,
        ADD COLUMN ses_max_send_rate double precision,
        ADD COLUMN ses_sent_last_24_hours double precision,
        ADD COLUMN ses_sent_by_others_24h double precision,
        ADD COLUMN ses_checked_at timestamptz`);
    await q.query(`ALTER TABLE health_checks ADD COLUMN details jsonb`);
    await q.query(`
      CREATE TABLE provider_hourly_usage (
        provider_id integer NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
        hour_start timestamp NOT NULL,
        reserved integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
        PRIMARY KEY (provider_id, hour_start)
      )`);
    await q.query(`ALTER TABLE rate_limit_reservations ADD COLUMN hourly boolean NOT NULL DEFAULT false`);

    await q.query(`
      CREATE OR REPLACE FUNCTION rate_limit_decide(p_provider integer, p_now timestamptz, p_reserve boolean)
      RETURNS TABLE (reservation_id bigint, refused_by text, retry_at timestamptz)
      LANGUAGE plpgsql AS $fn$
      DECLARE
        v_minute integer; v_day integer; v_month integer;
        v_ses boolean; v_rate float8; v_24h float8; v_others float8; v_checked timestamptz;
        v_day_start date := (p_now AT TIME ZONE 'UTC')::date;
        v_month_start date := date_trunc('month', p_now AT TIME ZONE 'UTC')::date;
        v_hour timestamp := date_trunc('hour', p_now AT TIME ZONE 'UTC');
        v_in_window integer; v_used integer; v_id bigint;
        v_burst integer; v_span interval; v_cap float8; v_h timestamp;
        v_refused text := NULL; v_retry timestamptz := NULL; v_never boolean := false; v_t timestamptz;
      BEGIN
        -- The row lock is what serialises decisions for one provider across every instance.
        IF p_reserve THEN
          SELECT rate_limit_per_minute, daily_limit, monthly_limit, provider_type = 'aws_ses',
                 ses_max_send_rate, ses_max_24_hour_send, ses_sent_by_others_24h, ses_checked_at
            INTO v_minute, v_day, v_month, v_ses, v_rate, v_24h, v_others, v_checked
            FROM providers WHERE id = p_provider AND deleted_at IS NULL FOR NO KEY UPDATE;
        ELSE
          SELECT rate_limit_per_minute, daily_limit, monthly_limit, provider_type = 'aws_ses',
                 ses_max_send_rate, ses_max_24_hour_send, ses_sent_by_others_24h, ses_checked_at
            INTO v_minute, v_day, v_month, v_ses, v_rate, v_24h, v_others, v_checked
            FROM providers WHERE id = p_provider AND deleted_at IS NULL;
        END IF;
        IF NOT FOUND THEN
          RETURN QUERY SELECT NULL::bigint, 'missing'::text, NULL::timestamptz;
          RETURN;
        END IF;
        -- SES's quota binds only an SES provider, and only once a check has read it.
        IF NOT v_ses THEN v_rate := NULL; v_24h := NULL; END IF;
        -- SES answers -1 for an unlimited 24-hour quota.
        IF v_24h < 0 THEN v_24h := NULL; END IF;

        IF p_reserve THEN
          -- Accepted sends older than the window no longer matter; nor do reservations abandoned
          -- for an hour (a worker that died mid-send), which stay counted in the day and month.
          DELETE FROM rate_limit_reservations
           WHERE provider_id = p_provider AND reserved_at <= p_now - interval '60 seconds'
             AND (committed_at IS NOT NULL OR reserved_at < p_now - interval '1 hour');
          IF v_ses THEN
            DELETE FROM provider_hourly_usage WHERE provider_id = p_provider AND hour_start < v_hour - interval '25 hours';
          END IF;
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

        -- MaxSendRate, messages per second: at most floor(rate) sends in any one-second span (for a
        -- rate under 1, one send per 1/rate seconds, up to the 60 s the reservations are kept).
        IF v_rate IS NOT NULL THEN
          IF v_rate <= 0 THEN
            v_refused := coalesce(v_refused, 'ses_rate'); v_never := true;
          ELSE
            v_burst := greatest(1, floor(v_rate))::integer;
            v_span := make_interval(secs => least(60, greatest(1, 1 / v_rate)));
            SELECT count(*) INTO v_in_window FROM rate_limit_reservations
             WHERE provider_id = p_provider AND reserved_at > p_now - v_span;
            IF v_in_window >= v_burst THEN
              v_refused := coalesce(v_refused, 'ses_rate');
              SELECT reserved_at + v_span INTO v_t FROM rate_limit_reservations
               WHERE provider_id = p_provider AND reserved_at > p_now - v_span
               ORDER BY reserved_at OFFSET v_in_window - v_burst LIMIT 1;
              v_retry := greatest(v_retry, v_t);
            END IF;
          END IF;
        END IF;

        -- Max24HourSend over any rolling 24 hours: every hour bucket that overlaps the last 24 hours
        -- counts whole (never fewer than were sent), plus the account's other senders as estimated at
        -- the last check, for 24 hours after it.
        IF v_24h IS NOT NULL THEN
          SELECT coalesce(sum(reserved), 0) INTO v_used FROM provider_hourly_usage
           WHERE provider_id = p_provider AND hour_start >= v_hour - interval '24 hours';
          v_cap := v_24h;
          IF v_checked > p_now - interval '24 hours' THEN v_cap := v_24h - coalesce(v_others, 0); END IF;
          IF v_used >= v_cap THEN
            v_refused := coalesce(v_refused, 'ses_24h');
            IF v_24h < 1 THEN v_never := true;
            ELSE
              v_t := NULL;
              IF v_cap >= 1 THEN
                -- A bucket stops counting 25 hours after it began: free again once enough have.
                SELECT b.hour_start INTO v_h FROM (
                  SELECT hour_start, sum(reserved) OVER (ORDER BY hour_start) AS upto FROM provider_hourly_usage
                   WHERE provider_id = p_provider AND hour_start >= v_hour - interval '24 hours') b
                 WHERE b.upto >= v_used - ceil(v_cap) + 1 ORDER BY b.hour_start LIMIT 1;
                v_t := (v_h + interval '25 hours') AT TIME ZONE 'UTC';
              END IF;
              -- Or when the other senders' estimate expires, whichever comes first; an estimate
              -- too early costs a refused attempt, never a send over the quota.
              IF v_cap < v_24h THEN v_t := least(v_t, v_checked + interval '24 hours'); END IF;
              v_retry := greatest(v_retry, v_t);
            END IF;
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

        INSERT INTO rate_limit_reservations (provider_id, reserved_at, hourly) VALUES (p_provider, p_now, v_ses) RETURNING id INTO v_id;
        INSERT INTO provider_usage (provider_id, period, period_start, reserved)
        VALUES (p_provider, 'd', v_day_start, 1), (p_provider, 'm', v_month_start, 1)
        ON CONFLICT (provider_id, period, period_start) DO UPDATE SET reserved = provider_usage.reserved + 1;
        -- Every SES provider's sends are counted by the hour from the start, so a first check
        -- finds the day's count already there.
        IF v_ses THEN
          INSERT INTO provider_hourly_usage (provider_id, hour_start, reserved) VALUES (p_provider, v_hour, 1)
          ON CONFLICT (provider_id, hour_start) DO UPDATE SET reserved = provider_hourly_usage.reserved + 1;
        END IF;
        RETURN QUERY SELECT v_id, NULL::text, NULL::timestamptz;
      END
      $fn$`);

    // As before, plus: a released reservation that was counted by the hour is given back there.
    // Writers touch the day row, then the month row, then the hour row, so they never deadlock.
    await q.query(`
      CREATE OR REPLACE FUNCTION rate_limit_settle(p_reservation bigint, p_now timestamptz, p_accepted boolean)
      RETURNS boolean
      LANGUAGE plpgsql AS $fn$
      DECLARE
        v_provider integer; v_reserved_at timestamptz; v_hourly boolean;
        v_sent integer := CASE WHEN p_accepted THEN 1 ELSE 0 END;
        v_given_back integer := CASE WHEN p_accepted THEN 0 ELSE 1 END;
      BEGIN
        IF p_accepted THEN
          UPDATE rate_limit_reservations SET committed_at = p_now
           WHERE id = p_reservation AND committed_at IS NULL RETURNING provider_id, reserved_at, hourly INTO v_provider, v_reserved_at, v_hourly;
        ELSE
          DELETE FROM rate_limit_reservations
           WHERE id = p_reservation AND committed_at IS NULL RETURNING provider_id, reserved_at, hourly INTO v_provider, v_reserved_at, v_hourly;
        END IF;
        IF v_provider IS NULL THEN RETURN false; END IF;
        -- Counted in the reservation's own UTC day and month, whichever day it is now.
        UPDATE provider_usage SET sent = sent + v_sent, reserved = reserved - v_given_back
         WHERE provider_id = v_provider AND period = 'd' AND period_start = (v_reserved_at AT TIME ZONE 'UTC')::date;
        UPDATE provider_usage SET sent = sent + v_sent, reserved = reserved - v_given_back
         WHERE provider_id = v_provider AND period = 'm' AND period_start = date_trunc('month', v_reserved_at AT TIME ZONE 'UTC')::date;
        IF v_hourly AND NOT p_accepted THEN
          UPDATE provider_hourly_usage SET reserved = reserved - 1
           WHERE provider_id = v_provider AND hour_start = date_trunc('hour', v_reserved_at AT TIME ZONE 'UTC') AND reserved > 0;
        END IF;
        RETURN true;
      END
      $fn$`);
  }

  async down(q: QueryRunner): Promise<void> {
    // The functions as the rate-limits migration left them.
    await q.query(`DROP FUNCTION rate_limit_settle(bigint, timestamptz, boolean)`);
    await q.query(`DROP FUNCTION rate_limit_decide(integer, timestamptz, boolean)`);
    await recreateFunctions(q, new RateLimits1764200000000());
    await q.query(`ALTER TABLE rate_limit_reservations DROP COLUMN hourly`);
    await q.query(`DROP TABLE provider_hourly_usage`);
    await q.query(`ALTER TABLE health_checks DROP COLUMN details`);
    await q.query(`
      ALTER TABLE providers
        DROP COLUMN ses_checked_at, DROP COLUMN ses_sent_by_others_24h, DROP COLUMN ses_sent_last_24_hours,
        DROP COLUMN ses_max_send_rate, DROP COLUMN ses_max_24_hour_send, DROP COLUMN ses_production_access_enabled,
        DROP COLUMN ses_enforcement_status, DROP COLUMN ses_sending_enabled`);
  }
}

/** Runs only the CREATE FUNCTION statements of the earlier migration's up(). */
async function recreateFunctions(q: QueryRunner, earlier: MigrationInterface): Promise<void> {
  const functionsOnly = new Proxy(q, {
    get(target, prop, receiver) {
      if (prop === 'query')
        return (sql: string, params?: unknown[]) => (/^\s*CREATE FUNCTION/.test(sql) ? target.query(sql, params) : Promise.resolve());
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  await earlier.up(functionsOnly);
}
