import type { DataSource } from 'typeorm';

/** Arbitrary constant: the advisory lock that serialises schema migrations between instances. */
const MIGRATION_LOCK_KEY = 7_201_001;

/**
 * Several instances may start together on one database; TypeORM's runner does not lock, so two
 * of them could apply the same migration at once. Hold a session advisory lock while migrating.
 */
export async function runMigrationsExclusively(dataSource: DataSource): Promise<void> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await dataSource.runMigrations({ transaction: 'each' });
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await runner.release();
  }
}
