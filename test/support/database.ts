import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/database/data-source-options.js';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres.js';

export interface TestDatabase {
  /** Environment for the app: DATABASE_URL of a fresh database, or a fresh DATA_DIR for PGlite. */
  env: Record<string, string | undefined>;
  /** Whether this run uses a PostgreSQL server (DATABASE_URL) rather than embedded PGlite. */
  server: boolean;
  drop(): Promise<void>;
}

// Test files run in one process and may rewrite DATABASE_URL: remember the one CI gave us.
const BASE_URL_VAR = 'E2E_BASE_DATABASE_URL';

/** The CI's PostgreSQL server, for the tests that need a server even in the embedded run. */
export const LOCAL_SERVER_URL = 'postgres://postgres@127.0.0.1:5432/test';

export function baseDatabaseUrl(): string | undefined {
  if (process.env[BASE_URL_VAR] === undefined) process.env[BASE_URL_VAR] = process.env.DATABASE_URL ?? '';
  return process.env[BASE_URL_VAR] || undefined;
}

/**
 * A database of its own for one test file: a new database on the server named by DATABASE_URL,
 * or, without it, a new folder for the embedded PGlite. Either way the app migrates it from empty.
 */
export async function provisionDatabase(): Promise<TestDatabase> {
  const base = baseDatabaseUrl();
  if (!base) {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ept-data-'));
    // What the app would make of an empty DATA_DIR, minus the seconds PGlite spends creating a
    // cluster and applying every migration: a copy of one made so, once per set of migrations.
    fs.cpSync(await migratedEmbeddedTemplate(), path.join(dataDir, 'pgdata'), { recursive: true });
    return {
      env: { DATABASE_URL: undefined, DATA_DIR: dataDir },
      server: false,
      drop: async () => fs.rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  return provisionServerDatabase(base);
}

/** A new database on a PostgreSQL server, in either CI run (the embedded one has no DATABASE_URL). */
export async function provisionServerDatabase(base = baseDatabaseUrl() ?? LOCAL_SERVER_URL): Promise<TestDatabase> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ept-data-'));
  const name = `ept_${randomBytes(6).toString('hex')}`;
  await adminQuery(base, `CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    env: { DATABASE_URL: url.toString(), DATA_DIR: dataDir },
    server: true,
    drop: async () => {
      await adminQuery(base, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * A PGlite cluster with every migration applied, kept in the temp folder under a name that
 * hashes the migrations and the PGlite version: made by the first test that needs it (the suite
 * runs in band) and reused by every later one and later runs, until a migration changes.
 * The app still runs its migrations at start: against this copy it finds none pending.
 */
async function migratedEmbeddedTemplate(): Promise<string> {
  const hash = createHash('sha256');
  const migrations = path.join(ROOT, 'migrations');
  for (const file of fs.readdirSync(migrations).sort()) hash.update(file).update(fs.readFileSync(path.join(migrations, file)));
  hash.update(fs.readFileSync(path.join(ROOT, 'node_modules/@electric-sql/pglite/package.json')));
  const template = path.join(os.tmpdir(), `ept-pglite-template-${hash.digest('hex').slice(0, 16)}`);
  const pgdata = path.join(template, 'pgdata');
  if (fs.existsSync(path.join(template, 'ready'))) return pgdata;

  fs.rmSync(template, { recursive: true, force: true });
  const embedded = await startEmbeddedPostgres(template, 1);
  try {
    const ds = await new DataSource(dataSourceOptions(embedded.connection, 1)).initialize();
    try {
      await ds.runMigrations({ transaction: 'each' });
    } finally {
      await ds.destroy();
    }
  } finally {
    await embedded.stop();
  }
  fs.writeFileSync(path.join(template, 'ready'), '');
  return pgdata;
}
