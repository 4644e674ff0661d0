import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

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
