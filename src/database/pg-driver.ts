import { types } from 'node:util';
import pg from 'pg';
import { DatabaseUnavailableError } from '../common/errors/database-unavailable.js';

/** Our own pool option (node-postgres ignores what it does not know): see BoundedClient. */
export const QUERY_TIMEOUT_OPTION = 'boundedQueryTimeoutMillis';

const PREPARED = /^\/\* prepared:([\w-]+) \*\/ /;

/**
 * Marks a statement of fixed text, run many times a second, to be prepared once per connection
 * and executed by name afterwards: PostgreSQL then neither parses nor (once it settles on a
 * generic plan) plans it again, and the text is not sent again. The mark passes through TypeORM's
 * `query()` as a comment; BoundedClient turns it into a node-postgres named query.
 */
export const prepared = (name: string, sql: string): string => `/* prepared:${name} */ ${sql}`;

/** An error of the socket itself (a Node system error of a read, write or connect), not of PostgreSQL. */
function isSocketError(err: unknown): boolean {
  return types.isNativeError(err) && typeof (err as NodeJS.ErrnoException).syscall === 'string';
}

/** SQLSTATE 0A000 with this text: a prepared statement whose result columns a migration changed. */
const STALE_PLAN = /cached plan must not change result type/;

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
  private sessionCleared = false;

  constructor(config: pg.ClientConfig & { [QUERY_TIMEOUT_OPTION]?: number }) {
    super(config);
    this.queryTimeoutMs = config[QUERY_TIMEOUT_OPTION] ?? 0;
    this.connection.once('end', () => (this.lost = true));
  }

  // Only the promise form (the one TypeORM uses) is bounded; a callback or a stream passes through.
  override query(...args: unknown[]): never {
    const mark = typeof args[0] === 'string' ? PREPARED.exec(args[0]) : null;
    if (mark && (args.length === 1 || (args.length === 2 && (args[1] === undefined || Array.isArray(args[1]))))) {
      args = [{ name: mark[1], text: args[0], values: args[1] }];
      // PGlite keeps one session across its socket's connections, prepared statements included:
      // a new connection starts from none (queued ahead of the first prepare, so it runs first).
      if (!this.sessionCleared) {
        this.sessionCleared = true;
        (super.query as (sql: string) => Promise<unknown>)('DEALLOCATE ALL').catch(() => undefined);
      }
    }
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
        // Another instance migrated the table under a statement this connection prepared: the
        // connection is dropped (the pool opens a fresh one, which prepares it anew) and the
        // caller sees a lost connection, which every caller already retries.
        if (mark && err instanceof Error && STALE_PLAN.test(err.message)) {
          this.lost = true;
          // Ending (not destroying) marks the client at once, so the pool drops it on release.
          this.end().catch(() => undefined);
        }
        // A reset socket fails the query with Node's system error (ECONNRESET, EPIPE: it names
        // its syscall) before the connection reports its end: the connection is lost all the same.
        if (isSocketError(err)) this.lost = true;
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
