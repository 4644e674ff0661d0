import { types } from 'node:util';
import pg from 'pg';
import { DatabaseUnavailableError } from '../common/errors/database-unavailable.js';

/** Our own pool option (node-postgres ignores what it does not know): see BoundedClient. */
export const QUERY_TIMEOUT_OPTION = 'boundedQueryTimeoutMillis';

type ConnectCallback = (err: Error | undefined, client: pg.PoolClient | undefined, release: (err?: unknown) => void) => void;

/**
 * A node-postgres client whose queries give up after `boundedQueryTimeoutMillis`, and whose
 * connection failures say so by class.
 *
 * node-postgres's own `query_timeout` only stops waiting: the query stays in flight on a
 * connection that returns to the pool, so the rollback that follows waits as long again, and a
 * `START TRANSACTION` the frozen server runs later leaves the next borrower inside a transaction
 * nobody commits. Giving up here closes the connection instead: the server rolls back whatever
 * it held, and the pool replaces the connection.
 */
class BoundedClient extends pg.Client {
  private readonly queryTimeoutMs: number;
  private lost = false;

  constructor(config: pg.ClientConfig & { [QUERY_TIMEOUT_OPTION]?: number }) {
    super(config);
    this.queryTimeoutMs = config[QUERY_TIMEOUT_OPTION] ?? 0;
    this.connection.once('end', () => (this.lost = true));
  }

  // Only the promise form (the one TypeORM uses) is bounded; a callback or a stream passes through.
  override query(...args: unknown[]): never {
    const result = (super.query as (...a: unknown[]) => unknown)(...args);
    if (!(result instanceof Promise)) return result as never;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      if (!this.queryTimeoutMs) return;
      timer = setTimeout(() => {
        reject(new DatabaseUnavailableError(`the database did not answer within ${this.queryTimeoutMs} ms`));
        this.connection.stream.destroy();
      }, this.queryTimeoutMs);
    });
    return Promise.race([result, timedOut])
      .catch((err: unknown) => {
        throw this.lost && !(err instanceof DatabaseUnavailableError)
          ? new DatabaseUnavailableError('the connection to the database was lost', { cause: err })
          : err;
      })
      .finally(() => clearTimeout(timer)) as never;
  }
}

/** A pool of BoundedClients whose failures to hand out a connection (refused, timed out, pool exhausted) say so by class. */
class BoundedPool extends pg.Pool {
  constructor(config: pg.PoolConfig = {}) {
    super({ Client: BoundedClient as unknown as typeof pg.Client, ...config });
  }

  override connect(): Promise<pg.PoolClient>;
  override connect(callback: ConnectCallback): void;
  override connect(callback?: ConnectCallback): Promise<pg.PoolClient> | void {
    // The cause's message (refused, timed out, authentication failed) names no secret, and says at start-up why it failed.
    const unavailable = (err: unknown) =>
      new DatabaseUnavailableError(`could not connect to the database: ${types.isNativeError(err) ? err.message : String(err)}`, {
        cause: err,
      });
    if (!callback) return super.connect().catch((err: unknown) => Promise.reject(unavailable(err)));
    super.connect((err, client, release) => callback(err ? unavailable(err) : err, client, release));
  }
}

/** node-postgres as TypeORM loads it (its `driver` option), with the pool above. */
export const boundedPg: typeof pg = Object.create(pg, { Pool: { value: BoundedPool } }) as typeof pg;
