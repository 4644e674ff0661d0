import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/database/data-source-options.js';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const BASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A migrated scratch database: a new database on the local server, or an embedded PGlite. */
export async function scratchDatabase(kind: 'postgres' | 'pglite', poolSize: number): Promise<{ ds: DataSource; drop(): Promise<void> }> {
  if (kind === 'pglite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-pglite-'));
    const embedded = await startEmbeddedPostgres(dir, 2);
    const ds = await new DataSource(dataSourceOptions(embedded.connection, 1)).initialize();
    await ds.runMigrations();
    return {
      ds,
      drop: async () => {
        await ds.destroy();
        await embedded.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const name = `bench_${randomBytes(5).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(BASE_URL);
  url.pathname = `/${name}`;
  const ds = await new DataSource(dataSourceOptions({ url: url.toString() }, poolSize)).initialize();
  await ds.runMigrations();
  return {
    ds,
    drop: async () => {
      await ds.destroy();
      await admin(`DROP DATABASE ${name} WITH (FORCE)`);
    },
  };
}

/** Runs one statement on the local server's BASE_URL database (CREATE / DROP DATABASE, statistics). */
export async function admin<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: BASE_URL });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end();
  }
}

/** Runs `total` calls of `op` with `concurrency` in flight; returns calls per second and latencies. */
export async function measure(total: number, concurrency: number, op: (i: number) => Promise<unknown>) {
  const latencies: number[] = [];
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = process.hrtime.bigint();
        await op(i);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))];
  return { perSecond: Math.round(total / seconds), p50: pct(0.5), p99: pct(0.99) };
}
