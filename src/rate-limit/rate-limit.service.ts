import { Inject, Injectable, Logger } from '@nestjs/common';
import { GroupCommit } from '../common/batching/group-commit.js';
import { CLOCK, type Clock } from './clock.js';
import { RateLimitRepository } from './rate-limit.repository.js';
import type { LimitKind, Reservation, ReserveResult, Usage } from './rate-limit.types.js';

/** Reservations asked for one provider at about the same time are decided together, up to this many. */
const RESERVE_BATCH = 200;

/**
 * Keeps each provider's promises: no 60-second span over `rate_limit_per_minute`, no UTC day
 * over `daily_limit`, no UTC month over `monthly_limit` (null: unlimited, 0: nothing), and for
 * Amazon SES the account's own quota as its last check read it: no second over MaxSendRate, no
 * rolling 24 hours over Max24HourSend. Every decision is taken in PostgreSQL under the provider's
 * row lock, so it holds across instances; one decision may grant several sends.
 */
@Injectable()
export class RateLimitService {
  private readonly logger = new Logger(RateLimitService.name);
  private readonly batches = new Map<number, GroupCommit<void, ReserveResult>>();

  constructor(
    private readonly limits: RateLimitRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Reserve one send on the provider now, or learn the earliest time one could be allowed. */
  async tryReserve(providerId: number): Promise<ReserveResult> {
    return (await this.tryReserveMany(providerId, 1))[0];
  }

  /** Up to `count` sends in one decision: one result per send asked for, the granted ones first. */
  async tryReserveMany(providerId: number, count: number): Promise<ReserveResult[]> {
    const d = await this.limits.reserve(providerId, this.clock.now(), count);
    const granted: ReserveResult[] = d.reservation_ids.map((id) => ({ granted: true, reservation: { id, providerId } }));
    const refused: ReserveResult = {
      granted: false,
      refusedBy: d.refused_by as LimitKind | 'missing',
      notBefore: d.retry_at && new Date(d.retry_at),
    };
    return [...granted, ...Array.from({ length: count - granted.length }, () => refused)];
  }

  /**
   * One send on the provider, decided together with whatever else this instance asks of the same
   * provider meanwhile: the delivery pipeline's way in, one row lock per batch instead of per send.
   */
  reserve(providerId: number): Promise<ReserveResult> {
    let batch = this.batches.get(providerId);
    if (!batch) {
      batch = new GroupCommit<void, ReserveResult>((asks) => this.tryReserveMany(providerId, asks.length), RESERVE_BATCH);
      this.batches.set(providerId, batch);
    }
    return batch.submit();
  }

  /** The provider accepted the message: it counts as sent. */
  async commit(reservation: Reservation): Promise<void> {
    if (!(await this.settle([{ reservation, accepted: true }])))
      this.logger.warn({ reservationId: reservation.id, providerId: reservation.providerId }, 'commit of a settled or unknown reservation');
  }

  /** The send ended without the provider accepting it: its capacity is given back. */
  async release(reservation: Reservation): Promise<void> {
    if (!(await this.settle([{ reservation, accepted: false }])))
      this.logger.warn(
        { reservationId: reservation.id, providerId: reservation.providerId },
        'release of a settled or unknown reservation',
      );
  }

  /** Settles many at once; answers how many were still pending. */
  settle(settlements: { reservation: Reservation; accepted: boolean }[]): Promise<number> {
    return this.limits.settle(
      settlements.map((s) => ({ id: s.reservation.id, accepted: s.accepted })),
      this.clock.now(),
    );
  }

  /** Whether one more send would be allowed now under every limit (reserves nothing). */
  async canSendNow(providerId: number): Promise<boolean> {
    const d = await this.limits.decide(providerId, this.clock.now());
    return d.refused_by === null;
  }

  /** Accepted sends in the current UTC day and month; rolls over by itself at the boundaries. */
  async usage(providerIds: number[]): Promise<Map<number, Usage>> {
    const result = new Map<number, Usage>(providerIds.map((id) => [id, { sentToday: 0, sentThisMonth: 0 }]));
    for (const row of await this.limits.sentIn(providerIds, this.clock.now())) {
      const usage = result.get(row.provider_id);
      if (!usage) continue;
      if (row.period === 'd') usage.sentToday = row.sent;
      else usage.sentThisMonth = row.sent;
    }
    return result;
  }
}
