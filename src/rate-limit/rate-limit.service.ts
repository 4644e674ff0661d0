import { Inject, Injectable, Logger } from '@nestjs/common';
import { CLOCK, type Clock } from './clock.js';
import { RateLimitRepository } from './rate-limit.repository.js';
import type { LimitKind, Reservation, ReserveResult, Usage } from './rate-limit.types.js';

/**
 * Keeps each provider's promises: no 60-second span over `rate_limit_per_minute`, no UTC day
 * over `daily_limit`, no UTC month over `monthly_limit` (null: unlimited, 0: nothing), and for
 * Amazon SES the account's own quota as its last check read it: no second over MaxSendRate, no
 * rolling 24 hours over Max24HourSend. Every decision is taken in PostgreSQL under the provider's
 * row lock, so it holds across instances.
 */
@Injectable()
export class RateLimitService {
  private readonly logger = new Logger(RateLimitService.name);

  constructor(
    private readonly limits: RateLimitRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Reserve one send on the provider, or learn the earliest time one could be allowed. */
  async tryReserve(providerId: number): Promise<ReserveResult> {
    const d = await this.limits.decide(providerId, this.clock.now(), true);
    if (d.reservation_id !== null) return { granted: true, reservation: { id: String(d.reservation_id), providerId } };
    return { granted: false, refusedBy: d.refused_by as LimitKind | 'missing', notBefore: d.retry_at && new Date(d.retry_at) };
  }

  /** The provider accepted the message: it counts as sent. */
  async commit(reservation: Reservation): Promise<void> {
    if (!(await this.limits.settle(reservation.id, this.clock.now(), true)))
      this.logger.warn({ reservationId: reservation.id, providerId: reservation.providerId }, 'commit of a settled or unknown reservation');
  }

  /** The send ended without the provider accepting it: its capacity is given back. */
  async release(reservation: Reservation): Promise<void> {
    if (!(await this.limits.settle(reservation.id, this.clock.now(), false)))
      this.logger.warn(
        { reservationId: reservation.id, providerId: reservation.providerId },
        'release of a settled or unknown reservation',
      );
  }

  /** Whether one more send would be allowed now under every limit (reserves nothing). */
  async canSendNow(providerId: number): Promise<boolean> {
    const d = await this.limits.decide(providerId, this.clock.now(), false);
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
