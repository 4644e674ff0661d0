import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { databaseUnavailability, DatabaseUnavailableError } from '../src/common/errors/database-unavailable.js';
import { dataSourceOptions } from '../src/database/data-source-options.js';
import { prepared } from '../src/database/pg-driver.js';
import type { TestDatabase } from './support/database.js';
import { proxiedServerDatabase, TcpProxy } from './support/tcp-proxy.js';

/**
 * Our node-postgres client classes a connection that breaks under a query as the database being
 * unavailable, whichever way it breaks. Found in CI: the proxy dropped connections while a claim
 * was being written, the kernel answered with a reset, and the raw `read ECONNRESET` reached the
 * send worker's log as an unexpected error with its stack. Needs a server (behind a proxy this
 * test controls), so it runs against one in both CI modes.
 */
describe('Our pg driver when the connection is reset under a query', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let ds: DataSource;

  beforeAll(async () => {
    const proxied = await proxiedServerDatabase();
    ({ db, proxy } = proxied);
    ds = await new DataSource(dataSourceOptions({ url: proxied.url }, 2)).initialize();
  });
  afterAll(async () => {
    await ds?.destroy();
    await proxy?.close();
    await db?.drop();
  });

  const failureOf = async (sql: string) => {
    const running = ds.query(sql).then(
      () => null,
      (err: unknown) => err,
    );
    await new Promise((r) => setTimeout(r, 300)); // the query is at the server, sleeping
    proxy.reset();
    return running;
  };

  it.each([
    ['a plain statement', 'SELECT pg_sleep(5)'],
    ['a prepared statement', prepared('sleep-under-reset', 'SELECT pg_sleep(5)')],
  ])('%s fails as the database unavailable, and the next query works', async (_, sql) => {
    const err = await failureOf(sql);
    expect(err).not.toBeNull();
    expect(databaseUnavailability(err)).toBeInstanceOf(DatabaseUnavailableError);
    expect(await ds.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });
});
