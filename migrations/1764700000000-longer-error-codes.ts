import type { MigrationInterface, QueryRunner } from 'typeorm';

/** SES error names run past 32 characters (MailFromDomainNotVerifiedException): error codes get 64. */
export class LongerErrorCodes1764700000000 implements MigrationInterface {
  name = 'LongerErrorCodes1764700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE send_attempts ALTER COLUMN error_code TYPE varchar(64)`);
    await q.query(`ALTER TABLE health_checks ALTER COLUMN error_code TYPE varchar(64)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE health_checks ALTER COLUMN error_code TYPE varchar(32) USING left(error_code, 32)`);
    await q.query(`ALTER TABLE send_attempts ALTER COLUMN error_code TYPE varchar(32) USING left(error_code, 32)`);
  }
}
