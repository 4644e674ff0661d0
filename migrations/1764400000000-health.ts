import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Health check history, passive failure counting, and the once-per-round claim for scheduled jobs. */
export class Health1764400000000 implements MigrationInterface {
  name = 'Health1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE providers
        ADD COLUMN last_error varchar(300),
        ADD COLUMN consecutive_failures integer NOT NULL DEFAULT 0,
        ADD COLUMN unhealthy_since timestamptz`);
    await q.query(`
      CREATE TABLE health_checks (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        provider_id integer NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
        checked_at timestamptz NOT NULL,
        trigger varchar(16) NOT NULL CHECK (trigger IN ('scheduled', 'manual')),
        healthy boolean NOT NULL,
        latency_ms integer NOT NULL,
        error_code varchar(32),
        smtp_code integer,
        smtp_reply varchar(300)
      )`);
    await q.query(`CREATE INDEX health_checks_by_provider ON health_checks (provider_id, checked_at DESC)`);
    await q.query(`CREATE INDEX health_checks_by_time ON health_checks (checked_at)`);
    // One row per scheduled job: the instance whose conditional update moves started_at runs the round.
    await q.query(`
      CREATE TABLE scheduled_rounds (
        name varchar(64) PRIMARY KEY,
        started_at timestamptz NOT NULL,
        started_by varchar(128) NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE scheduled_rounds`);
    await q.query(`DROP TABLE health_checks`);
    await q.query(`ALTER TABLE providers DROP COLUMN unhealthy_since, DROP COLUMN consecutive_failures, DROP COLUMN last_error`);
  }
}
