import type { DataSourceOptions } from 'typeorm';
import { migrations } from '../../migrations/index.js';
import { entities } from './entities.js';
import { boundedPg, QUERY_TIMEOUT_OPTION } from './pg-driver.js';

export type PostgresTarget = { url: string } | { host: string; port: number; user: string; database: string };

/** How long the service waits on PostgreSQL (DATABASE_*_TIMEOUT_MS). */
export interface DatabaseTimeouts {
  /** To open a connection, or to get one from a full pool. */
  connectMs: number;
  /** Server side: the server cancels a statement that runs longer (57014). */
  statementMs: number;
  /** Client side: we give up on a query the server has not answered (a frozen server or network), and close its connection. */
  queryMs: number;
}

/**
 * The one set of DataSource options, shared by the Nest app and the TypeORM CLI (ormconfig.ts).
 * Only the given timeouts apply: migrations, which may rightly run long, get none but connectMs.
 */
export function dataSourceOptions(target: PostgresTarget, poolSize = 10, timeouts: Partial<DatabaseTimeouts> = {}): DataSourceOptions {
  const connection =
    'url' in target ? { url: target.url } : { host: target.host, port: target.port, username: target.user, database: target.database };
  return {
    type: 'postgres',
    ...connection,
    driver: boundedPg,
    entities,
    migrations,
    migrationsTableName: 'schema_migrations',
    synchronize: false,
    migrationsRun: false,
    installExtensions: false,
    extra: {
      max: poolSize,
      connectionTimeoutMillis: timeouts.connectMs,
      statement_timeout: timeouts.statementMs,
      // Our transactions wait on nothing but the database: one left idle longer than a query
      // may take belongs to a client that is gone or stuck, and would hold its locks.
      idle_in_transaction_session_timeout: timeouts.queryMs,
      [QUERY_TIMEOUT_OPTION]: timeouts.queryMs,
    },
  };
}
