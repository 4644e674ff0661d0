import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { LogThrottle } from '../common/logging/log-throttle.js';
import { AppConfig, type SendingConfig } from '../config/app-config.js';
import { CLOCK, type Clock } from '../rate-limit/clock.js';
import { ProviderHealthService } from '../health/provider-health.service.js';
import { DeliveryService } from './delivery.service.js';
import { LeaseKeeper } from './lease-keeper.js';
import { MessagesRepository } from './messages.repository.js';

/**
 * Claims due messages from PostgreSQL and delivers them, up to SEND_WORKER_CONCURRENCY at a
 * time. While busy it claims in batches (once a quarter of the slots are free), so claims cost a
 * statement per batch, not per message. On shutdown it stops claiming and gives in-flight sends a bounded time to finish;
 * whatever is still unfinished is reclaimed by any instance once its lease expires.
 */
@Injectable()
export class SendWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(SendWorker.name);
  private readonly config: SendingConfig;
  // While the database is down every poll (and every send in flight) fails alike: log that once per interval, with a count.
  private readonly failures: LogThrottle;
  readonly owner = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly inFlight = new Set<Promise<void>>();
  private running = false;
  private loop: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private woken = false;

  constructor(
    private readonly messages: MessagesRepository,
    private readonly delivery: DeliveryService,
    private readonly leases: LeaseKeeper,
    private readonly health: ProviderHealthService,
    @Inject(CLOCK) private readonly clock: Clock,
    config: AppConfig,
  ) {
    this.config = config.sending;
    this.failures = new LogThrottle(this.logger, config.logRepeatIntervalMs);
  }

  onApplicationBootstrap(): void {
    // Whichever instance sees a provider recover makes the waiting messages due, for every worker.
    this.health.onRecovered(async () => {
      if ((await this.messages.wakeAwaitingProvider(this.clock.now())) > 0) this.wake();
    });
    if (!this.config.workersEnabled) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Something is due now (a message was just queued, or a slot freed up): look at once. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  // Before, not on, application shutdown: in-flight sends still need the database, which closes
  // in the onApplicationShutdown phase.
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake();
    await this.loop;
    const grace = new Promise<'timeout'>((resolve) => setTimeout(resolve, this.config.shutdownGraceSeconds * 1000, 'timeout').unref());
    if ((await Promise.race([Promise.all(this.inFlight), grace])) === 'timeout')
      this.logger.warn(
        { inFlight: this.inFlight.size },
        'shutdown grace ran out; unfinished messages return to the queue when their lease expires',
      );
  }

  private async run(): Promise<void> {
    const batch = Math.max(1, Math.floor(this.config.concurrency / 4));
    while (this.running) {
      let claimed = 0;
      const free = this.config.concurrency - this.inFlight.size;
      if (free >= batch || (free > 0 && this.inFlight.size === 0)) {
        try {
          const { messages, providersVersion } = await this.messages.claim(
            this.owner,
            free,
            this.clock.now(),
            this.config.leaseSeconds,
            this.leases.heldIds(),
          );
          claimed = messages.length;
          for (const message of messages) this.track(this.delivery.deliver(message, providersVersion));
        } catch (err) {
          this.failures.error(err, 'claiming messages failed; retrying after the poll interval');
        }
      }
      if (claimed < free || this.config.concurrency - this.inFlight.size < batch) await this.sleep();
    }
  }

  private track(work: Promise<void>): void {
    const p: Promise<void> = work
      .catch((err: unknown) => this.failures.error(err, 'delivery failed unexpectedly; the message is retried when its lease expires'))
      .finally(() => {
        this.inFlight.delete(p);
        this.wake();
      });
    this.inFlight.add(p);
  }

  private sleep(): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.config.pollIntervalMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = null;
        this.woken = false;
        done();
      };
    });
  }
}
