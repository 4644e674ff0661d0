import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

// When a final message became final: the expression the messages_finished and messages_body_kept
// indexes are built on (migration 1764910000000), so each batch is a range scan of one of them.
const FINISHED_AT = 'coalesce(sent_at, failed_at, updated_at)';
const FINAL = `status IN ('sent', 'failed')`;

/**
 * All SQL of message retention. Each method is one statement, so one short transaction: it picks
 * at most `limit` ids from an index, locks them with SKIP LOCKED (a row another transaction holds
 * is left for the next batch, never waited for) and writes only those. `id = ANY (ARRAY (…))`
 * rather than `id IN (…)`: the ids are computed first and the rows then fetched by primary key,
 * where IN may be planned as a hash join over a scan of the whole table.
 */
@Injectable()
export class RetentionRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Deletes up to `limit` sent or failed messages that became final before `cutoff`, oldest first;
   * their send_attempts go with them (ON DELETE CASCADE). Answers how many messages were deleted.
   */
  async deleteFinishedBefore(cutoff: Date, limit: number): Promise<number> {
    return this.count(
      `WITH gone AS (
         DELETE FROM messages WHERE id = ANY (ARRAY (
           SELECT id FROM messages WHERE ${FINAL} AND ${FINISHED_AT} < $1
            ORDER BY ${FINISHED_AT} LIMIT $2 FOR UPDATE SKIP LOCKED))
         RETURNING 1)
       SELECT count(*)::int AS count FROM gone`,
      [cutoff, limit],
    );
  }

  /**
   * Empties text_body, html_body, headers and attachments of up to `limit` sent or failed messages
   * that became final before `cutoff` and still have them, and stamps body_dropped_at with `now`.
   * updated_at is left alone: it is part of the finished time the row's own deletion counts from.
   */
  async dropBodiesFinishedBefore(cutoff: Date, limit: number, now: Date): Promise<number> {
    return this.count(
      `WITH dropped AS (
         UPDATE messages SET text_body = NULL, html_body = NULL, headers = '{}', attachments = '[]', body_dropped_at = $3
          WHERE id = ANY (ARRAY (
            SELECT id FROM messages WHERE ${FINAL} AND body_dropped_at IS NULL AND ${FINISHED_AT} < $1
             ORDER BY ${FINISHED_AT} LIMIT $2 FOR UPDATE SKIP LOCKED))
         RETURNING 1)
       SELECT count(*)::int AS count FROM dropped`,
      [cutoff, limit, now],
    );
  }

  /**
   * Deletes up to `limit` webhook events raised before `cutoff` whose deliveries are all over
   * (delivered or given up), with those deliveries (ON DELETE CASCADE). An event still pending
   * for some endpoint (one turned off, say) stays until it is delivered or given up.
   */
  async deleteWebhookEventsBefore(cutoff: Date, limit: number): Promise<number> {
    return this.count(
      `WITH gone AS (
         DELETE FROM webhook_events WHERE id = ANY (ARRAY (
           SELECT e.id FROM webhook_events e WHERE e.created_at < $1
              AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.status IN ('pending', 'delivering'))
            ORDER BY e.created_at LIMIT $2 FOR UPDATE SKIP LOCKED))
         RETURNING 1)
       SELECT count(*)::int AS count FROM gone`,
      [cutoff, limit],
    );
  }

  private async count(sql: string, params: unknown[]): Promise<number> {
    const [{ count }] = (await this.dataSource.query(sql, params)) as { count: number }[];
    return count;
  }
}
