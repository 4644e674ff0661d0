import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { AppConfig, type RetentionConfig } from '../config/app-config.js';
import { ScheduledRoundsRepository } from '../database/scheduled-rounds.repository.js';
import { CLOCK, type Clock } from '../rate-limit/clock.js';
import { RetentionRepository } from './retention.repository.js';

const JOB = 'message-retention';
const DAY_MS = 86_400_000;

/** What one purge did. */
export interface RetentionRound {
  /** Messages deleted with their attempts. */
  messagesDeleted: number;
  /** Messages whose bodies, headers and attachments were dropped (their rows stay). */
  bodiesDropped: number;
  /** Webhook events deleted with their deliveries. */
  webhookEventsDeleted: number;
  /** Statements run, each its own transaction. */
  batches: number;
  /** False when the round stopped (shutdown, or half its interval spent) with work left for the next one. */
  finished: boolean;
}

/**
 * Keeps the messages table bounded: a sent or failed message loses its bodies, custom headers
 * and attachments MESSAGE_BODY_RETENTION_DAYS after it became final, and is deleted with its
 * attempts after MESSAGE_RETENTION_DAYS. Statistics and usage read their own aggregates, which
 * are never touched here.
 */
@Injectable()
export class RetentionService {
  private readonly logger = new Logger(RetentionService.name);
  private readonly config: RetentionConfig;
  private readonly instance = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private rounds = 0;

  constructor(
    private readonly retention: RetentionRepository,
    private readonly schedule: ScheduledRoundsRepository,
    @Inject(CLOCK) private readonly clock: Clock,
    config: AppConfig,
  ) {
    this.config = config.retention;
  }

  /**
   * Purges if this instance wins this round among all instances on the database (null when
   * another started one less than about an interval ago). A round stops after half its
   * interval, so it is over before the next can be claimed; what is left waits for that one.
   */
  async runRound(signal?: AbortSignal): Promise<RetentionRound | null> {
    const intervalMs = this.config.intervalSeconds * 1000;
    this.rounds += 1;
    // A tenth of slack: an instance's own timer may fire a little early, and must not skip a round for it.
    if (!(await this.schedule.claim(JOB, `${this.instance}:${this.rounds}`, this.clock.now(), intervalMs * 0.9))) return null;
    const round = await this.purge({ signal, deadline: performance.now() + intervalMs / 2 });
    if (round.messagesDeleted > 0 || round.bodiesDropped > 0 || round.webhookEventsDeleted > 0 || !round.finished)
      this.logger.log(round, 'message retention round');
    return round;
  }

  /**
   * Deletes the messages past MESSAGE_RETENTION_DAYS, then drops the bodies past
   * MESSAGE_BODY_RETENTION_DAYS, then deletes the webhook events past WEBHOOK_RETENTION_DAYS whose
   * deliveries are over, a batch at a time, until none is left, `signal` aborts or
   * performance.now() passes `deadline`.
   */
  async purge(opts: { signal?: AbortSignal; deadline?: number } = {}): Promise<RetentionRound> {
    const now = this.clock.now();
    const before = (days: number) => new Date(now.getTime() - days * DAY_MS);
    const round: RetentionRound = { messagesDeleted: 0, bodiesDropped: 0, webhookEventsDeleted: 0, batches: 0, finished: false };
    const stopped = () => opts.signal?.aborted === true || performance.now() >= (opts.deadline ?? Infinity);
    const drain = async (batch: (limit: number) => Promise<number>): Promise<{ count: number; done: boolean }> => {
      let count = 0;
      while (!stopped()) {
        const n = await batch(this.config.batchSize);
        round.batches += 1;
        count += n;
        if (n < this.config.batchSize) return { count, done: true };
      }
      return { count, done: false };
    };
    // Rows first: a body about to go with its row is not worth a write of its own.
    const rows = await drain((limit) => this.retention.deleteFinishedBefore(before(this.config.rowDays), limit));
    round.messagesDeleted = rows.count;
    if (!rows.done) return round;
    const bodies = await drain((limit) => this.retention.dropBodiesFinishedBefore(before(this.config.bodyDays), limit, now));
    round.bodiesDropped = bodies.count;
    if (!bodies.done) return round;
    const events = await drain((limit) => this.retention.deleteWebhookEventsBefore(before(this.config.webhookDays), limit));
    round.webhookEventsDeleted = events.count;
    round.finished = events.done;
    return round;
  }
}
