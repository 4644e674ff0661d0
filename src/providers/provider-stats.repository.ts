import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

export interface AttemptTotals {
  provider_id: number;
  attempts: number;
  accepted: number;
  response_time_ms_sum: number;
  stale_results: number;
}

export interface FailoverCount {
  from_provider_id: number;
  to_provider_id: number;
  count: number;
}

/**
 * Reads the per-day aggregates the sending module keeps (never the attempts themselves), so
 * statistics cost the same with ten attempts or ten million.
 */
@Injectable()
export class ProviderStatsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async attemptTotals(since: Date): Promise<AttemptTotals[]> {
    const rows: AttemptTotals[] = await this.dataSource.query(
      `SELECT provider_id, sum(attempts)::int AS attempts, sum(accepted)::int AS accepted, sum(response_time_ms_sum)::float8 AS response_time_ms_sum,
              sum(stale_results)::int AS stale_results
         FROM provider_daily_stats WHERE day >= ($1::timestamptz AT TIME ZONE 'UTC')::date GROUP BY provider_id`,
      [since],
    );
    return rows;
  }

  async failovers(): Promise<FailoverCount[]> {
    return this.dataSource.query(`SELECT from_provider_id, to_provider_id, count::int AS count FROM provider_failovers`);
  }
}
