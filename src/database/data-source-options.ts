import type { DataSourceOptions } from 'typeorm';
import { migrations } from '../../migrations/index.js';
import { entities } from './entities.js';

export type PostgresTarget = { url: string } | { host: string; port: number; user: string; database: string };

/** The one set of DataSource options, shared by the Nest app and the TypeORM CLI (ormconfig.ts). */
export function dataSourceOptions(target: PostgresTarget, poolSize = 10): DataSourceOptions {
  const connection =
    'url' in target ? { url: target.url } : { host: target.host, port: target.port, username: target.user, database: target.database };
  return {
    type: 'postgres',
    ...connection,
    entities,
    migrations,
    migrationsTableName: 'schema_migrations',
    synchronize: false,
    migrationsRun: false,
    installExtensions: false,
    extra: { max: poolSize },
  };
}
