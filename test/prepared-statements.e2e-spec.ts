import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { databaseUnavailability, DatabaseUnavailableError } from '../src/common/errors/database-unavailable.js';
import { dataSourceOptions } from '../src/database/data-source-options.js';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres.js';
import { prepared } from '../src/database/pg-driver.js';
import { provisionDatabase } from './support/database.js';

/**
 * Statements marked with `prepared()` are prepared once per connection and run by name, through
 * TypeORM's ordinary `query()`. One pooled connection, so every query below meets the same session.
 */
async function retryWhileUnavailable<T>(run: () => Promise<T>, tries = 20): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await run();
    } catch (err) {
      if (i >= tries || !databaseUnavailability(err)) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('Prepared statements (on the database this run uses)', () => {
  let ds: DataSource;
  let cleanup: () => Promise<void>;
  const probe = prepared('probe-rows', 'SELECT * FROM probe WHERE id = ANY($1::int[]) ORDER BY id');
  const preparedNames = async () =>
    ((await ds.query(`SELECT name FROM pg_prepared_statements ORDER BY name`)) as { name: string }[]).map((r) => r.name);

  beforeAll(async () => {
    // A database of its own: a new one on the server, or a copy of the migrated PGlite template.
    const db = await provisionDatabase();
    let embedded: Awaited<ReturnType<typeof startEmbeddedPostgres>> | null = null;
    if (db.server) ds = new DataSource(dataSourceOptions({ url: db.env.DATABASE_URL as string }, 1));
    else {
      embedded = await startEmbeddedPostgres(db.env.DATA_DIR as string, 1);
      ds = new DataSource(dataSourceOptions(embedded.connection, 1));
    }
    await ds.initialize();
    await ds.query(`CREATE TABLE probe (id int PRIMARY KEY, a text)`);
    await ds.query(`INSERT INTO probe VALUES (1, 'one'), (2, 'two')`);
    cleanup = async () => {
      await ds.destroy();
      await embedded?.stop();
      await db.drop();
    };
  });
  afterAll(async () => cleanup?.());

  it('prepares a marked statement once under its name and runs it by name with new values', async () => {
    expect(await ds.query(probe, [[1]])).toEqual([{ id: 1, a: 'one' }]);
    expect(await preparedNames()).toEqual(['probe-rows']);
    expect(await ds.query(probe, [[1, 2]])).toEqual([
      { id: 1, a: 'one' },
      { id: 2, a: 'two' },
    ]);
    expect(await preparedNames()).toEqual(['probe-rows']);
  });

  it('leaves unmarked statements unprepared', async () => {
    await ds.query('SELECT * FROM probe WHERE id = $1', [1]);
    expect(await preparedNames()).toEqual(['probe-rows']);
  });

  it('after a migration changed its result columns: one lost-connection error, then the new columns', async () => {
    expect(await ds.query(probe, [[2]])).toEqual([{ id: 2, a: 'two' }]);
    await ds.query(`ALTER TABLE probe ADD COLUMN b int NOT NULL DEFAULT 7`);
    // The connection's plan is stale: the pool's connection is dropped and the caller told so,
    // as for any lost connection (the callers in the sending pipeline retry those).
    const failed: unknown = await ds.query(probe, [[2]]).then(
      () => null,
      (err: unknown) => err,
    );
    expect(databaseUnavailability(failed)).toBeInstanceOf(DatabaseUnavailableError);
    // As the callers do: try again. (PGlite's socket takes its one connection back a moment
    // after the old one closed, so a try may still find the database unavailable.)
    expect(await retryWhileUnavailable(() => ds.query(probe, [[2]]))).toEqual([{ id: 2, a: 'two', b: 7 }]);
    expect(await preparedNames()).toEqual(['probe-rows']);
  });
});
