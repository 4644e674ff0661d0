import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { dataSourceOptions } from './data-source-options.js';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './embedded-postgres.js';
import { runMigrationsExclusively } from './run-migrations.js';

// dataSourceFactory only receives the options object, so the embedded folder travels inside it.
const EMBEDDED_DIR = 'embeddedDataDir';
const EMBEDDED_SERVER_CONNECTIONS = 4;

/**
 * PostgreSQL from DATABASE_URL, or an embedded PGlite under DATA_DIR when it is unset.
 * Either way the same migrations run before the app serves anything.
 */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => {
        const options = config.databaseUrl
          ? dataSourceOptions({ url: config.databaseUrl }, config.databasePoolSize)
          : { type: 'postgres' as const, extra: { max: config.databasePoolSize, [EMBEDDED_DIR]: config.dataDir } };
        // A failed start should say why at once, not retry for 30 s.
        return { ...options, retryAttempts: 1 };
      },
      dataSourceFactory: async (options?: DataSourceOptions) => {
        const extra = (options as { extra?: Record<string, unknown> } | undefined)?.extra ?? {};
        const embeddedDir = extra[EMBEDDED_DIR] as string | undefined;
        let embedded: EmbeddedPostgresHandle | undefined;
        let finalOptions = options as DataSourceOptions;
        if (embeddedDir) {
          // pglite-socket queues each protocol message on its own, so two connections' extended
          // queries (Parse/Bind/Execute/Sync) interleave and get each other's results. PGlite runs
          // one query at a time anyway: a single pooled connection costs nothing and is correct.
          embedded = await startEmbeddedPostgres(embeddedDir, EMBEDDED_SERVER_CONNECTIONS);
          finalOptions = dataSourceOptions(embedded.connection, 1);
        }
        const dataSource = new DataSource(finalOptions);
        try {
          await dataSource.initialize();
          // The embedded database has one process (DATA_DIR is locked) and one pooled connection,
          // which the advisory lock's session would hold while the migrations wait for it.
          if (embedded) await dataSource.runMigrations({ transaction: 'each' });
          else await runMigrationsExclusively(dataSource);
        } catch (err) {
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
