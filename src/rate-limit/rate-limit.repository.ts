import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

export interface Decision {
  reservation_id: string | null;
  refused_by: string | null;
  retry_at: Date | null;
}

/** All SQL about limits; the decision itself is the `rate_limit_decide` function (migrations/). */
@Injectable()
export class RateLimitRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async decide(providerId: number, now: Date, reserve: boolean): Promise<Decision> {
    const rows: Decision[] = await this.dataSource.query('SELECT * FROM rate_limit_decide($1, $2, $3)', [providerId, now, reserve]);
    return rows[0];
  }

  /**
   * Settles a pending reservation: accepted (counts as sent) or given back. False if it was
   * already settled or is unknown.
   */
  async settle(reservationId: string, now: Date, accepted: boolean): Promise<boolean> {
    const rows: { settled: boolean }[] = await this.dataSource.query('SELECT rate_limit_settle($1, $2, $3) AS settled', [
      reservationId,
      now,
      accepted,
    ]);
    return rows[0].settled;
  }

  async sentIn(providerIds: number[], now: Date): Promise<{ provider_id: number; period: 'd' | 'm'; sent: number }[]> {
    if (!providerIds.length) return [];
    return this.dataSource.query(
      `SELECT provider_id, period, sent FROM provider_usage
        WHERE provider_id = ANY($1)
          AND ((period = 'd' AND period_start = ($2::timestamptz AT TIME ZONE 'UTC')::date)
            OR (period = 'm' AND period_start = date_trunc('month', $2::timestamptz AT TIME ZONE 'UTC')::date))`,
      [providerIds, now],
    );
  }
}
