import { Inject, Injectable, Logger } from '@nestjs/common';
import { GroupCommit } from '../common/batching/group-commit.js';
import { databaseUnavailability } from '../common/errors/database-unavailable.js';
import { LogThrottle } from '../common/logging/log-throttle.js';
import { AppConfig } from '../config/app-config.js';
import { CLOCK, type Clock } from '../rate-limit/clock.js';
import type { Reservation } from '../rate-limit/rate-limit.types.js';
import type { BatchOutcome } from './message.types.js';
import { MessagesRepository } from './messages.repository.js';

/** How long a final write keeps trying while the database cannot be reached. */
const FINAL_WRITE_PATIENCE_MS = 5 * 60_000;
/** Final writes per transaction at most. */
const OUTCOME_BATCH = 500;
/** A batch rolled back by a deadlock is run again at once, up to this many times. */
const MAX_LOCK_CONFLICTS = 5;

/** Whether one claim's write won, or why it could not be written. */
type Written = { won: boolean } | { error: unknown };

/** Everything one claim of one message ends with, its reservations as the limiter handed them out. */
export type Outcome = Omit<BatchOutcome, 'reservations'> & { reservations: { reservation: Reservation; counts: boolean }[] };

/**
 * Writes the outcomes of many claims at once ("group commit"): messages marked (fenced by their
 * lease tokens), reservations settled by whether each write won, attempts and daily aggregates
 * recorded, all in one statement (MessagesRepository.finishBatch). One round trip, one commit,
 * one WAL flush, for a whole batch of messages.
 */
@Injectable()
export class OutcomeWriter {
  private readonly logger = new Logger(OutcomeWriter.name);
  private readonly failures: LogThrottle;
  private readonly batches = new GroupCommit<Outcome, Written>((outcomes) => this.writeBatch(outcomes), OUTCOME_BATCH);

  constructor(
    private readonly messages: MessagesRepository,
    @Inject(CLOCK) private readonly clock: Clock,
    config: AppConfig,
  ) {
    this.failures = new LogThrottle(this.logger, config.logRepeatIntervalMs);
  }

  /**
   * Answers whether this claim's write won. A lost write (another claim owns the message now)
   * is logged and counted, never silent. While the database cannot be reached the batch is tried
   * again (the claims stay held, and this instance claims nothing it holds): giving up would leave
   * the messages to be claimed and sent once more.
   */
  async write(outcome: Outcome): Promise<boolean> {
    const written = await this.batches.submit(outcome);
    if ('error' in written) throw written.error;
    return written.won;
  }

  private async writeBatch(outcomes: Outcome[]): Promise<Written[]> {
    let won: Set<string>;
    try {
      won = await this.untilDatabaseAnswers(() => this.commit(outcomes, true));
    } catch (err) {
      if (databaseUnavailability(err)) throw err;
      // Bookkeeping must never stand between a send and its final write: without the attempts.
      this.failures.error(err, 'could not record a batch of attempts; writing the outcomes alone', { messages: outcomes.length });
      try {
        won = await this.untilDatabaseAnswers(() => this.commit(outcomes, false));
      } catch (again) {
        if (databaseUnavailability(again) || outcomes.length === 1) throw again;
        // One outcome the database refuses must not keep its neighbours from being written.
        return this.oneByOne(outcomes);
      }
    }
    this.warnLost(outcomes, won);
    return outcomes.map((o) => ({ won: won.has(o.lease.id) }));
  }

  private async oneByOne(outcomes: Outcome[]): Promise<Written[]> {
    const written: Written[] = [];
    for (const o of outcomes) {
      try {
        const won = await this.untilDatabaseAnswers(() => this.commit([o], false));
        this.warnLost([o], won);
        written.push({ won: won.has(o.lease.id) });
      } catch (error) {
        written.push({ error });
      }
    }
    return written;
  }

  private warnLost(outcomes: Outcome[], won: Set<string>): void {
    for (const o of outcomes) {
      if (won.has(o.lease.id)) continue;
      this.logger.warn(
        { messageId: o.lease.id, leaseToken: o.lease.token, providerId: o.providerId },
        o.providerId !== null
          ? 'discarded the result of an attempt whose claim had been taken over; the message may go out twice'
          : 'discarded a retry decision whose claim had been taken over',
      );
    }
  }

  private commit(outcomes: Outcome[], withAttempts: boolean): Promise<Set<string>> {
    return this.messages.finishBatch(
      outcomes.map((o) => ({ ...o, reservations: o.reservations.map((r) => ({ reservationId: r.reservation.id, counts: r.counts })) })),
      this.clock.now(),
      withAttempts,
    );
  }

  private async untilDatabaseAnswers<T>(work: () => Promise<T>): Promise<T> {
    const giveUpAt = performance.now() + FINAL_WRITE_PATIENCE_MS;
    let conflicts = 0;
    for (let delay = 250; ; delay = Math.min(delay * 2, 1000)) {
      try {
        return await work();
      } catch (err) {
        // PostgreSQL rolled the whole batch back to break a lock cycle: nothing was written.
        if (isLockConflict(err) && ++conflicts <= MAX_LOCK_CONFLICTS) continue;
        if (!databaseUnavailability(err) || performance.now() > giveUpAt) throw err;
        this.failures.error(err, 'could not write delivery results; trying again until the database answers');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }
}

/** A deadlock or serialization failure: the transaction was rolled back and may simply be run again. */
function isLockConflict(err: unknown): boolean {
  const code = (err as { code?: unknown; driverError?: { code?: unknown } }).driverError?.code ?? (err as { code?: unknown }).code;
  return code === '40P01' || code === '40001';
}
