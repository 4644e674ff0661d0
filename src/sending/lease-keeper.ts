import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { loggableError } from '../common/errors/loggable-error.js';
import { AppConfig } from '../config/app-config.js';
import { CLOCK, type Clock } from '../rate-limit/clock.js';
import type { Lease } from './message.types.js';
import { MessagesRepository } from './messages.repository.js';

/**
 * Keeps this process's claims alive while their attempts are really in progress: every third of
 * SEND_LEASE_SECONDS, one statement extends all of them. An attempt can then wait for a pooled
 * SMTP connection and a slow server for as long as it takes without its message being claimed
 * again; only a process that stopped (or lost the database for a whole lease) loses its claims.
 * A claim found taken over is marked lost, so its attempt stops before it sends.
 */
@Injectable()
export class LeaseKeeper implements OnApplicationShutdown {
  private readonly logger = new Logger(LeaseKeeper.name);
  private readonly held = new Map<string, { token: string; lost: boolean; until: number }>();
  private readonly leaseSeconds: number;
  private timer: NodeJS.Timeout | null = null;
  private renewing: Promise<void> | null = null;

  constructor(
    private readonly messages: MessagesRepository,
    @Inject(CLOCK) private readonly clock: Clock,
    config: AppConfig,
  ) {
    this.leaseSeconds = config.sending.leaseSeconds;
  }

  /** Keeps a claim made just now alive until `drop`. */
  hold(lease: Lease): void {
    this.held.set(lease.id, { token: lease.token, lost: false, until: this.expiry() });
    this.timer ??= setInterval(() => void this.renew(), (this.leaseSeconds * 1000) / 3);
  }

  /**
   * Whether the claim is still ours as far as we know: not taken over, and not past the expiry
   * the last successful renewal set (without the database, another instance may have it by then).
   */
  isHeld(lease: Lease): boolean {
    const entry = this.held.get(lease.id);
    return entry !== undefined && entry.token === lease.token && !entry.lost && this.clock.now().getTime() < entry.until;
  }

  /** Ids of the messages this process holds, lost claims included, while their attempts run. */
  heldIds(): string[] {
    return [...this.held.keys()];
  }

  drop(lease: Lease): void {
    if (this.held.get(lease.id)?.token === lease.token) this.held.delete(lease.id);
    if (this.held.size === 0) this.stopTimer();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopTimer();
    await this.renewing;
  }

  /** One renewal round now (the timer's work; tests call it directly). */
  async renew(): Promise<void> {
    if (this.renewing) return this.renewing;
    this.renewing = this.renewAll().finally(() => (this.renewing = null));
    return this.renewing;
  }

  private async renewAll(): Promise<void> {
    const leases = [...this.held].filter(([, e]) => !e.lost).map(([id, e]) => ({ id, token: e.token }));
    if (!leases.length) return;
    let kept: Set<string>;
    const until = this.expiry();
    try {
      kept = await this.messages.renewLeases(leases, this.clock.now(), this.leaseSeconds);
    } catch (err) {
      // Not lost yet: the lease runs until it expires, and the next round tries again.
      this.logger.warn({ err: loggableError(err), leases: leases.length }, 'could not renew message leases');
      return;
    }
    for (const lease of leases) {
      const entry = this.held.get(lease.id);
      if (entry?.token !== lease.token) continue;
      if (kept.has(lease.id)) {
        entry.until = until;
        continue;
      }
      entry.lost = true;
      this.logger.warn({ messageId: lease.id }, 'lease on a message was taken over; its attempt will not write a result');
    }
  }

  private expiry(): number {
    return this.clock.now().getTime() + this.leaseSeconds * 1000;
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
