import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Fencing per claim, bounded uncertain retries, early recovery probes (issue #9):
 * - `messages.lease_token`: a new number from a sequence at every claim; only the holder of the
 *   current token may write a final state (the owner string is the same for every claim of a process).
 * - `messages.uncertain_count`: hand-overs that ended with an unknown outcome, bounded by SEND_MAX_UNCERTAIN_ATTEMPTS.
 * - `messages.awaiting_provider`: put back because no provider could take it; moved forward when one recovers.
 * - `providers.last_failure_at`: a burst of in-flight failures from one outage counts once.
 * - `providers.next_probe_at` / `probe_attempts`: when an unhealthy provider is checked next (5 s, doubling).
 * - `provider_daily_stats.stale_results`: results of attempts whose claim had been taken over, discarded.
 */
export class DeliverySafety1764500000000 implements MigrationInterface {
  name = 'DeliverySafety1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SEQUENCE message_lease_tokens AS bigint`);
    await q.query(`
      ALTER TABLE messages
        ADD COLUMN lease_token bigint,
        ADD COLUMN uncertain_count integer NOT NULL DEFAULT 0,
        ADD COLUMN awaiting_provider boolean NOT NULL DEFAULT false`);
    await q.query(`CREATE INDEX messages_awaiting_provider ON messages (id) WHERE status = 'queued' AND awaiting_provider`);
    await q.query(`
      ALTER TABLE providers
        ADD COLUMN last_failure_at timestamptz,
        ADD COLUMN next_probe_at timestamptz,
        ADD COLUMN probe_attempts integer NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE provider_daily_stats ADD COLUMN stale_results integer NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE provider_daily_stats DROP COLUMN stale_results`);
    await q.query(`ALTER TABLE providers DROP COLUMN probe_attempts, DROP COLUMN next_probe_at, DROP COLUMN last_failure_at`);
    await q.query(`DROP INDEX messages_awaiting_provider`);
    await q.query(`ALTER TABLE messages DROP COLUMN awaiting_provider, DROP COLUMN uncertain_count, DROP COLUMN lease_token`);
    await q.query(`DROP SEQUENCE message_lease_tokens`);
  }
}
