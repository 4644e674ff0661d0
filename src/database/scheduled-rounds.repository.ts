import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { returningRows } from '../providers/providers.repository.js';

/**
 * The once-per-round claim of scheduled jobs (health checks, message retention) among every
 * instance sharing the database: one row per job in `scheduled_rounds`. A row, not an advisory
 * lock, because the embedded database serves every connection from one session.
 */
@Injectable()
export class ScheduledRoundsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Claims this round of job `name` for `owner`: the conditional update succeeds for the first
   * caller only, until `minGapMs` has passed since the round it claimed started.
   */
  async claim(name: string, owner: string, now: Date, minGapMs: number): Promise<boolean> {
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
