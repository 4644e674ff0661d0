import { databaseUnavailability } from '../errors/database-unavailable.js';
import { loggableError } from '../errors/loggable-error.js';

/** Past this many distinct errors, those quiet for an interval are forgotten (with their uncounted repeats). */
const MAX_KEYS = 100;

/** The part of Nest's Logger the throttle writes to. */
export interface ErrorLogger {
  error(fields: Record<string, unknown>, message: string): void;
}

/**
 * For errors that repeat on every request or poll while something is down (the database):
 * the first is logged at once, then at most one line per interval carrying `count`, how many
 * times it happened since the previous line (that one included). Identical means the same
 * message and the same error class, code and text.
 */
export class LogThrottle {
  private readonly seen = new Map<string, { loggedAt: number; since: number }>();

  constructor(
    private readonly logger: ErrorLogger,
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  error(err: unknown, message: string, fields: Record<string, unknown> = {}): void {
    // A lost connection's stack says nothing; any other error keeps it.
    const unavailable = databaseUnavailability(err);
    const described = unavailable ? loggableError(unavailable, { stack: false }) : loggableError(err);
    const key = `${message}\n${JSON.stringify(unavailable ? described : loggableError(err, { stack: false }))}`;
    const now = this.now();
    const entry = this.seen.get(key);
    if (entry && now - entry.loggedAt < this.intervalMs) {
      entry.since += 1;
      return;
    }
    if (this.seen.size >= MAX_KEYS) this.forgetOlderThan(now - this.intervalMs);
    this.seen.set(key, { loggedAt: now, since: 0 });
    // Not under `err`: pino-http's serializer would rewrite it (type "Object", stacks joined).
    this.logger.error({ ...fields, error: described, count: (entry?.since ?? 0) + 1 }, message);
  }

  private forgetOlderThan(cutoff: number): void {
    for (const [key, entry] of this.seen) if (entry.loggedAt < cutoff) this.seen.delete(key);
  }
}
