import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { returningRows } from '../providers/providers.repository.js';
import type { CheckDetails } from '../provider-types/check-outcome.js';

export interface HealthCheckRow {
  id: string;
  provider_id: number;
  checked_at: Date;
  trigger: 'scheduled' | 'manual';
  healthy: boolean;
  latency_ms: number;
  error_code: string | null;
  smtp_code: number | null;
  smtp_reply: string | null;
  /** The provider type's findings (for SES, the account state and quota), or null. */
  details: CheckDetails | null;
}

export type NewHealthCheck = Omit<HealthCheckRow, 'id'>;

/** All SQL about recorded checks. */
@Injectable()
export class HealthChecksRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insert(c: NewHealthCheck): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO health_checks (provider_id, checked_at, trigger, healthy, latency_ms, error_code, smtp_code, smtp_reply, details)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        c.provider_id,
        c.checked_at,
        c.trigger,
        c.healthy,
        c.latency_ms,
        c.error_code,
        c.smtp_code,
        c.smtp_reply,
        c.details ? JSON.stringify(c.details) : null,
      ],
    );
  }

  async history(providerId: number, limit: number, offset: number): Promise<{ count: number; rows: HealthCheckRow[] }> {
    const [{ count }] = await this.dataSource.query(`SELECT count(*)::int AS count FROM health_checks WHERE provider_id = $1`, [
      providerId,
    ]);
    const rows: HealthCheckRow[] = await this.dataSource.query(
      `SELECT * FROM health_checks WHERE provider_id = $1 ORDER BY checked_at DESC, id DESC LIMIT $2 OFFSET $3`,
      [providerId, limit, offset],
    );
    return { count, rows };
  }

  /**
   * Deletes the checks older than `cutoff`, `batchSize` rows per statement, so that a large backlog
   * (the first round after retention was shortened, or after a long stop) never holds its locks or
   * a transaction for long. Answers how many were deleted.
   */
  async pruneBefore(cutoff: Date, batchSize = 1000): Promise<number> {
    let deleted = 0;
    for (;;) {
      const rows = returningRows<unknown>(
        await this.dataSource.query(
          `DELETE FROM health_checks WHERE id IN (SELECT id FROM health_checks WHERE checked_at < $1 LIMIT $2) RETURNING 1`,
          [cutoff, batchSize],
        ),
      );
      deleted += rows.length;
      if (rows.length < batchSize) return deleted;
    }
  }
}
