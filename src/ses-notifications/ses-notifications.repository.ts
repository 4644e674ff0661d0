import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { raiseEvents } from '../webhooks/webhook-events.js';
import type { FeedbackRecipient, SesFeedback } from './ses-feedback.js';

/** What recording one report did; all zero when its message is unknown or the report was already recorded. */
export interface FeedbackRecorded {
  messageId: string | null;
  recorded: boolean;
  suppressed: number;
}

export interface FeedbackRow {
  type: SesFeedback['type'];
  subtype: string | null;
  recipients: FeedbackRecipient[];
  occurred_at: Date;
}

const EVENT_OF: Record<SesFeedback['type'], string | null> = { bounce: 'email.bounced', complaint: 'email.complained', delivery: null };

/** All SQL about what providers report back about messages (message_feedback, and the suppressions it adds). */
@Injectable()
export class SesNotificationsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Records a report in ONE statement, so all of it or none commits: the message_feedback row
   * (unique by the SNS notification id: a redelivery changes nothing), the suppressions of its
   * recipients when `suppressAs` says so (an address already suppressed keeps its row), and the
   * events (`email.bounced` / `email.complained`, `email.suppressed` naming the newly suppressed).
   * The message is the one whose attempt through this provider SES gave `sesMessageId`.
   */
  async record(providerId: number, notificationId: string, f: SesFeedback, eventData: Record<string, unknown>): Promise<FeedbackRecorded> {
    const [row] = (await this.dataSource.query(
      `WITH msg AS (
         SELECT m.id, m.message_id AS header, p.id AS provider_id, p.name AS provider_name
           FROM send_attempts a JOIN messages m ON m.id = a.message_id JOIN providers p ON p.id = a.provider_id
          WHERE a.provider_id = $1 AND a.provider_message_id = $2
          ORDER BY a.id DESC LIMIT 1),
       fb AS (
         INSERT INTO message_feedback (message_id, provider_id, notification_id, type, subtype, recipients, detail, occurred_at)
         SELECT msg.id, $1, $3, $4, $5, $6::jsonb, $7::jsonb, $8 FROM msg
         ON CONFLICT (notification_id) DO NOTHING
         RETURNING message_id),
       sup AS (
         INSERT INTO suppressions (email, reason, message_id)
         SELECT DISTINCT ON (lower(r.address)) r.address, $9::varchar, fb.message_id
           FROM fb, jsonb_to_recordset($6::jsonb) AS r (address text)
          WHERE $9::varchar IS NOT NULL AND length(r.address) BETWEEN 1 AND 320
          ORDER BY lower(r.address)
         ON CONFLICT (lower(email)) DO NOTHING
         RETURNING email, reason),
       events AS (
         SELECT $10::text AS type,
                $11::jsonb || jsonb_build_object('id', msg.id, 'message_id', msg.header,
                                                 'provider', jsonb_build_object('id', msg.provider_id, 'name', msg.provider_name)) AS data
           FROM fb, msg WHERE $10::text IS NOT NULL
         UNION ALL
         SELECT 'email.suppressed', jsonb_build_object('id', msg.id, 'message_id', msg.header,
                  'suppressed_recipients', jsonb_agg(jsonb_build_object('address', sup.email, 'reason', sup.reason) ORDER BY sup.email))
           FROM sup, msg GROUP BY msg.id, msg.header),
       raised AS (${raiseEvents('events')})
       SELECT (SELECT id::text FROM msg) AS message_id, (SELECT count(*) FROM fb)::int AS recorded,
              (SELECT count(*) FROM sup)::int AS suppressed, (SELECT raised FROM raised) AS raised`,
      [
        providerId,
        f.sesMessageId,
        notificationId,
        f.type,
        f.subtype,
        JSON.stringify(f.recipients),
        JSON.stringify(f.detail),
        f.occurredAt,
        f.suppressAs,
        EVENT_OF[f.type],
        JSON.stringify(eventData),
      ],
    )) as { message_id: string | null; recorded: number; suppressed: number }[];
    return { messageId: row.message_id, recorded: row.recorded > 0, suppressed: row.suppressed };
  }

  /** A message's reports, oldest first. */
  feedbackOf(messageId: string): Promise<FeedbackRow[]> {
    return this.dataSource.query(
      `SELECT type, subtype, recipients, occurred_at FROM message_feedback WHERE message_id = $1 ORDER BY occurred_at, id`,
      [messageId],
    );
  }
}
