import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { prepared } from '../database/pg-driver.js';

export interface Decision {
  reservation_id: string | null;
  refused_by: string | null;
  retry_at: Date | null;
}

export interface BatchDecision {
  reservation_ids: string[];
  refused_by: string | null;
  retry_at: Date | null;
}

/** All SQL about limits; the decisions themselves are PL/pgSQL functions (migrations/). */
@Injectable()
export class RateLimitRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Up to `count` sends in one decision; `refused_by` and `retry_at` explain any shortfall. */
  async reserve(providerId: number, now: Date, count: number): Promise<BatchDecision> {
    const [row] = (await this.dataSource.query(prepared('reserve-sends', 'SELECT * FROM rate_limit_reserve($1, $2, $3)'), [
      providerId,
      now,
      count,
    ])) as {
      reservation_ids: (string | number)[];
      refused_by: string | null;
      retry_at: Date | null;
    }[];
    return { reservation_ids: row.reservation_ids.map(String), refused_by: row.refused_by, retry_at: row.retry_at };
  }

  /**
   * Settles reservations: accepted ones count as sent, the others are given back. Answers how
   * many were still pending. (The delivery pipeline settles inside its batched final write.)
   */
  async settle(settlements: { id: string; accepted: boolean }[], now: Date): Promise<number> {
    if (!settlements.length) return 0;
    const [row] = (await this.dataSource.query('SELECT rate_limit_settle_many($1::bigint[], $2::boolean[], $3) AS settled', [
      settlements.map((s) => s.id),
      settlements.map((s) => s.accepted),
      now,
    ])) as { settled: number }[];
    return row.settled;
  }

  /** Whether every limit would allow one more send now; reserves nothing. */
  async decide(providerId: number, now: Date): Promise<Decision> {
    const rows: Decision[] = await this.dataSource.query('SELECT * FROM rate_limit_decide($1, $2, false)', [providerId, now]);
    return rows[0];
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
