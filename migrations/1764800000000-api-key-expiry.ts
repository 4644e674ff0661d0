import type { MigrationInterface, QueryRunner } from 'typeorm';

/** API keys may expire (issue #11); last_used_at exists since the initial schema. */
export class ApiKeyExpiry1764800000000 implements MigrationInterface {
  name = 'ApiKeyExpiry1764800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_keys ADD COLUMN expires_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_keys DROP COLUMN expires_at`);
  }
}
