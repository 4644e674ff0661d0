import type { INestApplication } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { Writable } from 'node:stream';
import type { App } from 'supertest/types.js';
import { Fernet } from '../../src/credentials/fernet.js';
import { provisionDatabase, type TestDatabase } from './database.js';

export const API = '/api/email-provider';
export const ADMIN_KEY = 'e2e-admin-key-0123456789abcdef';
export const FERNET_KEY = Fernet.generateKey();

/** Every line the app logged, as text, to check what reached the logs. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.lines.push(chunk.toString('utf8'));
    done();
  }
  text(): string {
    return this.lines.join('');
  }
}

export interface TestApp {
  app: INestApplication;
  server: App;
  logs: LogCapture;
  db: TestDatabase;
  auth: { Authorization: string };
  close(): Promise<void>;
}

/**
 * Boots the real AppModule on a database of its own and real HTTP. The environment is read when
 * AppModule is first imported, so it is set before the dynamic import below.
 */
export async function startApp(options: { env?: Record<string, string | undefined>; db?: TestDatabase } = {}): Promise<TestApp> {
  const db = options.db ?? (await provisionDatabase());
  const env: Record<string, string | undefined> = {
    NODE_ENV: 'test',
    ADMIN_API_KEY: ADMIN_KEY,
    FERNET_KEYS: FERNET_KEY,
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    // Tests that want scheduled checks turn them on; elsewhere a round would only add noise.
    HEALTH_CHECKS_ENABLED: 'false',
    // Likewise retention rounds: a test that wants one starts the app with MESSAGE_RETENTION_ENABLED=true or calls RetentionService.
    MESSAGE_RETENTION_ENABLED: 'false',
    // The test SMTP servers listen on loopback, which the outbound host policy denies unless allowed.
    OUTBOUND_ALLOW: '127.0.0.1',
    ...db.env,
    ...options.env,
  };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }

  const { AppModule } = await import('../../src/app.module.js');
  const { configureApp } = await import('../../src/app.setup.js');
  const { LOG_DESTINATION } = await import('../../src/common/logging/logging.module.js');
  const { AppConfig } = await import('../../src/config/app-config.js');
  const { validateEnv } = await import('../../src/config/env.schema.js');
  const logs = new LogCapture();
  // @nestjs/config validates the environment once, when AppModule is first imported; a test that
  // starts apps with different settings rebuilds the typed config from the current environment.
  const config = new AppConfig(new ConfigService(validateEnv({ ...process.env })));
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
    .overrideProvider(LOG_DESTINATION)
    .useValue(logs)
    .overrideProvider(AppConfig)
    .useValue(config)
    .compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({ logger: false });
  configureApp(app);
  await app.init();
  return {
    app,
    server: app.getHttpServer() as App,
    logs,
    db,
    auth: { Authorization: `Bearer ${ADMIN_KEY}` },
    close: async () => {
      await app.close();
      if (!options.db) await db.drop();
    },
  };
}
