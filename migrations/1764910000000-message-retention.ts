import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A bounded messages table (issue #12): bodies are dropped, then rows deleted, a set time after
 * a message reached its final state.
 * - `messages.body_dropped_at`: when the retention round emptied text_body, html_body, headers
 *   and attachments (NULL while they are kept).
 * - `messages_finished`: final messages by the time they became final, so a round finds those past
 *   MESSAGE_RETENTION_DAYS by an index range scan, oldest first, however many rows there are.
 * - `messages_body_kept`: the same for final messages still holding a body; a message leaves it
 *   when its body is dropped, so that scan only ever sees bodies still to drop.
 * The finished time is `coalesce(sent_at, failed_at, updated_at)`: every final write sets one of
 * the first two; updated_at covers a row that somehow has neither. The round-claim table
 * (`scheduled_rounds`) exists since the health migration; send_attempts already follow their
 * message on delete (ON DELETE CASCADE, through send_attempts_message).
 */
export class MessageRetention1764910000000 implements MigrationInterface {
  name = 'MessageRetention1764910000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE messages ADD COLUMN body_dropped_at timestamptz`);
    await q.query(
      `CREATE INDEX messages_finished ON messages ((coalesce(sent_at, failed_at, updated_at))) WHERE status IN ('sent', 'failed')`,
    );
    await q.query(
      `CREATE INDEX messages_body_kept ON messages ((coalesce(sent_at, failed_at, updated_at)))
        WHERE status IN ('sent', 'failed') AND body_dropped_at IS NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX messages_body_kept`);
    await q.query(`DROP INDEX messages_finished`);
    await q.query(`ALTER TABLE messages DROP COLUMN body_dropped_at`);
  }
}
