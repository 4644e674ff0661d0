import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { CheckDetails } from '../provider-types/check-outcome.js';
import { returningRows } from '../providers/providers.repository.js';

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

/** All SQL about recorded checks and scheduled rounds. */
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

  async pruneBefore(cutoff: Date): Promise<void> {
    await this.dataSource.query(`DELETE FROM health_checks WHERE checked_at < $1`, [cutoff]);
  }

  /**
   * Claims this round of a scheduled job for one instance among all sharing the database: the
   * conditional update succeeds for the first caller only, until half an interval has passed.
   */
  async claimRound(name: string, owner: string, now: Date, minGapMs: number): Promise<boolean> {
    await this.dataSource.query(
      `INSERT INTO scheduled_rounds (name, started_at, started_by) VALUES ($1, 'epoch', '') ON CONFLICT (name) DO NOTHING`,
      [name],
    );
    const rows = returningRows(
      await this.dataSource.query(
        `UPDATE scheduled_rounds SET started_at = $3, started_by = $2
          WHERE name = $1 AND started_at <= $3::timestamptz - make_interval(secs => $4) RETURNING name`,
        [name, owner, now, minGapMs / 1000],
      ),
    );
    return rows.length > 0;
  }
}
