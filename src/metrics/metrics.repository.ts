import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

export interface QueueState {
  queued: number;
  scheduled: number;
  sending: number;
  /** Webhook deliveries pending or in flight. */
  webhookBacklog: number;
  /** Seconds the oldest due message (queued or scheduled, its time passed) has waited; 0 when none. */
  oldestDueSeconds: number;
}

export interface ProviderState {
  id: number;
  type: string;
  health: 'healthy' | 'unhealthy' | 'unknown';
  dailyLimit: number | null;
  monthlyLimit: number | null;
  /** Sends counted against the day's / month's limit (accepted, and reserved by sends in flight). */
  usedToday: number;
  usedThisMonth: number;
}

/**
 * The shared state the gauges show, read at scrape time so that every instance reports the same
 * numbers. Each count is bounded by the queue's size, not the table's: the statuses match the
 * partial indexes `messages_due` and `messages_leased`.
 */
@Injectable()
export class MetricsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async queue(now: Date): Promise<QueueState> {
    const [row] = (await this.dataSource.query(
      `SELECT (SELECT count(*) FROM messages WHERE status = 'queued')::int AS queued,
              (SELECT count(*) FROM messages WHERE status = 'scheduled')::int AS scheduled,
              (SELECT count(*) FROM messages WHERE status = 'sending')::int AS sending,
              (SELECT count(*) FROM webhook_deliveries WHERE status IN ('pending', 'delivering'))::int AS webhook_backlog,
              extract(epoch FROM $1::timestamptz - (SELECT min(next_attempt_at) FROM messages
                WHERE status IN ('queued', 'scheduled') AND next_attempt_at <= $1))::float8 AS oldest_due`,
      [now],
    )) as { queued: number; scheduled: number; sending: number; webhook_backlog: number; oldest_due: number | null }[];
    return {
      queued: row.queued,
      scheduled: row.scheduled,
      sending: row.sending,
      webhookBacklog: row.webhook_backlog,
      oldestDueSeconds: Math.max(0, row.oldest_due ?? 0),
    };
  }

  /** Active, live providers with their usage in the current UTC day and month. */
  async providers(now: Date): Promise<ProviderState[]> {
    const rows = (await this.dataSource.query(
      `SELECT p.id, p.provider_type, p.health_status, p.daily_limit, p.monthly_limit,
              coalesce(d.reserved, 0) AS used_today, coalesce(m.reserved, 0) AS used_this_month
         FROM providers p
         LEFT JOIN provider_usage d
           ON d.provider_id = p.id AND d.period = 'd' AND d.period_start = ($1::timestamptz AT TIME ZONE 'UTC')::date
         LEFT JOIN provider_usage m
           ON m.provider_id = p.id AND m.period = 'm' AND m.period_start = date_trunc('month', $1::timestamptz AT TIME ZONE 'UTC')::date
        WHERE p.is_active AND p.deleted_at IS NULL`,
      [now],
    )) as {
      id: number;
      provider_type: string;
      health_status: ProviderState['health'];
      daily_limit: number | null;
      monthly_limit: number | null;
      used_today: number;
      used_this_month: number;
    }[];
    return rows.map((r) => ({
      id: r.id,
      type: r.provider_type,
      health: r.health_status,
      dailyLimit: r.daily_limit,
      monthlyLimit: r.monthly_limit,
      usedToday: Number(r.used_today),
      usedThisMonth: Number(r.used_this_month),
    }));
  }
}
