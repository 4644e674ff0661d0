export interface AuthFailureThrottleOptions {
  /** Failures allowed within `windowMs`; the one that reaches it blocks the client. 0: never block. */
  limit: number;
  windowMs: number;
  /** Clients remembered at once; beyond it the one that failed least recently is forgotten. */
  maxClients?: number;
}

interface ClientRecord {
  /** When each failure still inside the window happened (ms), oldest first; never more than `limit`. */
  failures: number[];
  blockedUntil: number;
}

/**
 * Counts failed authentications per client in a sliding window, in this process's memory. A client
 * that reaches the limit is blocked for one window; while blocked it is told when to come back and
 * nothing more is counted. Successful requests never touch it, and do not clear what was counted
 * (else one valid key would let its holder guess at others without limit).
 */
export class AuthFailureThrottle {
  private readonly clients = new Map<string, ClientRecord>();
  private readonly maxClients: number;

  constructor(
    private readonly options: AuthFailureThrottleOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.maxClients = options.maxClients ?? 10_000;
  }

  /** Milliseconds until `client` may try again; 0 when it is not blocked. */
  retryAfterMs(client: string): number {
    const record = this.clients.get(client);
    if (!record) return 0;
    return Math.max(0, record.blockedUntil - this.now());
  }

  /** Counts one failure; true when it is the one that blocks the client. */
  recordFailure(client: string): boolean {
    if (this.options.limit <= 0) return false;
    const now = this.now();
    const record = this.clients.get(client) ?? { failures: [], blockedUntil: 0 };
    // Re-inserted on every failure, so the map's order is least recently failed first.
    this.clients.delete(client);
    if (record.blockedUntil > now) {
      this.clients.set(client, record);
      return false;
    }
    record.failures = record.failures.filter((t) => t > now - this.options.windowMs);
    record.failures.push(now);
    const blocks = record.failures.length >= this.options.limit;
    if (blocks) {
      record.blockedUntil = now + this.options.windowMs;
      record.failures = [];
    }
    this.makeRoom(now);
    this.clients.set(client, record);
    return blocks;
  }

  /** How many clients are remembered (for tests of the memory bound). */
  get size(): number {
    return this.clients.size;
  }

  /**
   * Forgets clients whose failures and block are over, then the least recently failed while full.
   * The map is ordered by last failure, so the finished ones sit at its front: amortised O(1).
   */
  private makeRoom(now: number): void {
    for (const [client, record] of this.clients) {
      if (record.blockedUntil > now || record.failures.some((t) => t > now - this.options.windowMs)) break;
      this.clients.delete(client);
    }
    while (this.clients.size >= this.maxClients) this.clients.delete(this.clients.keys().next().value as string);
  }
}
