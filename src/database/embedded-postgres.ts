import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import fs from 'node:fs';
import path from 'node:path';
import { acquireProcessLock, LockHeldError } from './process-lock.js';

/** Longest unix socket path the kernel accepts (sun_path is 108 bytes with the NUL). */
const MAX_SOCKET_PATH = 107;

export interface EmbeddedPostgresHandle {
  /** A `postgres://` URL (TCP) or the socket folder (unix) for node-postgres. */
  connection: { host: string; port: number; user: string; database: string };
  stop(): Promise<void>;
}

/**
 * Runs PGlite inside this process and serves it over the PostgreSQL wire protocol, so the
 * ordinary `pg` driver (and every SQL feature we rely on: transactions, SKIP LOCKED) works
 * unchanged. PGlite itself has no lock on its folder, and two processes opening it silently
 * lose writes, so we hold an exclusive lock on DATA_DIR for as long as we run.
 */
export async function startEmbeddedPostgres(dataDir: string, maxConnections: number): Promise<EmbeddedPostgresHandle> {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  let releaseLock: () => void;
  try {
    // Held for the life of the process: a busy or stopped holder keeps it, a dead one (even
    // SIGKILLed) leaves it to the next start at once.
    releaseLock = acquireProcessLock(path.join(dataDir, 'service.lock'));
  } catch (cause) {
    if (!(cause instanceof LockHeldError)) throw cause;
    throw new Error(
      `DATA_DIR ${dataDir} is in use by another instance of this service (process ${cause.holder.pid}). The ` +
        `embedded database serves one process only: stop the other one, or set DATABASE_URL to share a ` +
        `PostgreSQL server between instances.`,
      { cause },
    );
  }

  try {
    return await serve(dataDir, maxConnections, releaseLock);
  } catch (err) {
    releaseLock();
    throw err;
  }
}

async function serve(dataDir: string, maxConnections: number, releaseLock: () => void): Promise<EmbeddedPostgresHandle> {
  const db = await PGlite.create(path.join(dataDir, 'pgdata'));
  const socketDir = path.join(dataDir, 'run');
  const socketPath = path.join(socketDir, '.s.PGSQL.5432');
  const useUnixSocket = process.platform !== 'win32' && socketPath.length <= MAX_SOCKET_PATH;
  if (useUnixSocket) {
    fs.mkdirSync(socketDir, { recursive: true, mode: 0o700 });
    fs.rmSync(socketPath, { force: true });
  }
  const server = new PGLiteSocketServer(
    useUnixSocket ? { db, path: socketPath, maxConnections } : { db, host: '127.0.0.1', port: 0, maxConnections },
  );
  try {
    await server.start();
  } catch (err) {
    await db.close();
    throw err;
  }
  const port = useUnixSocket ? 5432 : Number(server.getServerConn().split(':').pop());

  return {
    connection: { host: useUnixSocket ? socketDir : '127.0.0.1', port, user: 'postgres', database: 'postgres' },
    async stop() {
      await server.stop();
      await db.close();
      releaseLock();
    },
  };
}
