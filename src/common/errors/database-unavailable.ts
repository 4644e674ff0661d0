import pg from 'pg';
import { QueryFailedError } from 'typeorm';

/** What a client is told when the database does not answer (503). */
export const DATABASE_UNAVAILABLE_DETAIL = 'The service is temporarily unavailable: its database does not answer. Try again later.';

/**
 * The database could not be reached, or did not answer in time: neither the caller's fault nor a
 * bug, and likely to pass. Raised by our node-postgres driver (src/database/pg-driver.ts) when a
 * connection cannot be had, is lost, or a query outlives DATABASE_QUERY_TIMEOUT_MS.
 */
export class DatabaseUnavailableError extends Error {
  readonly code = 'DATABASE_UNAVAILABLE';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DatabaseUnavailableError';
  }
}

/**
 * SQLSTATEs by which a server says it cannot serve now rather than that the statement is wrong:
 * connection exceptions (class 08), insufficient resources (class 53: too many connections, disk
 * full, out of memory), shutting down or starting up (57P01-57P03), idle session timeout (57P05),
 * a statement cancelled by statement_timeout (57014), idle_in_transaction_session_timeout (25P03).
 */
const UNAVAILABLE_CLASSES = new Set(['08', '53']);
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '57P05', '57014', '25P03']);

function isUnavailableState(code: string): boolean {
  return UNAVAILABLE_CLASSES.has(code.slice(0, 2)) || UNAVAILABLE_STATES.has(code);
}

/**
 * The error in `err`'s chain (itself, a TypeORM QueryFailedError's driver error, its causes) that
 * shows the database unavailable, or null when `err` is anything else. Judged by class and
 * SQLSTATE only, never by message text.
 */
export function databaseUnavailability(err: unknown, depth = 0): Error | null {
  if (typeof err !== 'object' || err === null || depth > 4) return null;
  if (err instanceof DatabaseUnavailableError) return err;
  if (err instanceof pg.DatabaseError) return err.code && isUnavailableState(err.code) ? err : null;
  if (err instanceof QueryFailedError) return databaseUnavailability(err.driverError, depth + 1);
  return databaseUnavailability((err as { cause?: unknown }).cause, depth + 1);
}
