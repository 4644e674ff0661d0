import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { dataSourceOptions, type DatabaseTimeouts, type PostgresTarget } from './data-source-options.js';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './embedded-postgres.js';
import { runMigrationsExclusively } from './run-migrations.js';

// dataSourceFactory only receives the options object, so what it needs travels inside it.
const SETTINGS = 'databaseModuleSettings';
const EMBEDDED_SERVER_CONNECTIONS = 4;

interface Settings {
  url?: string;
  embeddedDir: string;
  poolSize: number;
  timeouts: DatabaseTimeouts;
}

/**
 * PostgreSQL from DATABASE_URL, or an embedded PGlite under DATA_DIR when it is unset.
 * Either way the same migrations run before the app serves anything, on a pool of their own
 * without statement or query timeouts (a migration may rightly run long, or wait for another
 * instance's); the app's pool then bounds every wait by DATABASE_*_TIMEOUT_MS.
 */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => {
        const settings: Settings = {
          url: config.databaseUrl,
          embeddedDir: config.dataDir,
          poolSize: config.databasePoolSize,
          timeouts: config.databaseTimeouts,
        };
        // A failed start should say why at once, not retry for 30 s.
        return { type: 'postgres' as const, extra: { [SETTINGS]: settings }, retryAttempts: 1 };
      },
      dataSourceFactory: async (options?: DataSourceOptions) => {
        const settings = (options as { extra: Record<string, Settings> }).extra[SETTINGS];
        let embedded: EmbeddedPostgresHandle | undefined;
        let target: PostgresTarget;
        if (settings.url) target = { url: settings.url };
        else {
          embedded = await startEmbeddedPostgres(settings.embeddedDir, EMBEDDED_SERVER_CONNECTIONS);
          target = embedded.connection;
        }
        // pglite-socket queues each protocol message on its own, so two connections' extended
        // queries (Parse/Bind/Execute/Sync) interleave and get each other's results. PGlite runs
        // one query at a time anyway: a single pooled connection costs nothing and is correct.
        const poolSize = embedded ? 1 : settings.poolSize;
        // Two connections on a server: one holds the migration lock while the other migrates.
        const migrator = new DataSource(dataSourceOptions(target, embedded ? 1 : 2, { connectMs: settings.timeouts.connectMs }));
        const dataSource = new DataSource(dataSourceOptions(target, poolSize, settings.timeouts));
        try {
          await migrator.initialize();
          // The embedded database has one process (DATA_DIR is locked) and one pooled connection,
          // which the advisory lock's session would hold while the migrations wait for it.
          if (embedded) await migrator.runMigrations({ transaction: 'each' });
          else await runMigrationsExclusively(migrator);
          await migrator.destroy();
          await dataSource.initialize();
        } catch (err) {
          if (migrator.isInitialized) await migrator.destroy();
          if (dataSource.isInitialized) await dataSource.destroy();
          await embedded?.stop();
          throw err;
        }
        if (embedded) {
          // The embedded server must outlive the pool: stop it right after the DataSource closes,
          // whatever order Nest runs the modules' shutdown hooks in.
          const destroy = dataSource.destroy.bind(dataSource);
          const stop = embedded.stop;
          dataSource.destroy = async () => {
            await destroy();
            await stop();
          };
        }
        return dataSource;
      },
    }),
  ],
})
export class DatabaseModule {}
