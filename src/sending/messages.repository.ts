import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { prepared } from '../database/pg-driver.js';
import { returningRows } from '../providers/providers.repository.js';
import { raiseEvents } from '../webhooks/webhook-events.js';
import type { AttemptRow, BatchOutcome, Finish, Lease, MessageRow, MessageStatus, NewAttempt, NewMessage } from './message.types.js';

/** The columns a new message is written with, and each one's type (a statement of fixed text, so it is prepared once). */
const INSERT_COLUMNS = {
  api_key_id: 'integer',
  idempotency_key: 'varchar',
  request_hash: 'char(64)',
  status: 'varchar',
  is_test: 'boolean',
  message_id: 'varchar',
  from_email: 'varchar',
  from_name: 'varchar',
  reply_to: 'varchar',
  to_addresses: 'jsonb',
  cc_addresses: 'jsonb',
  bcc_addresses: 'jsonb',
  suppressed_recipients: 'jsonb',
  subject: 'text',
  text_body: 'text',
  html_body: 'text',
  headers: 'jsonb',
  attachments: 'jsonb',
  pinned_provider_id: 'integer',
  send_at: 'timestamptz',
  next_attempt_at: 'timestamptz',
  lease_owner: 'varchar',
  lease_expires_at: 'timestamptz',
  lease_token: 'bigint',
} as const;
const INSERT_NAMES = Object.keys(INSERT_COLUMNS) as (keyof typeof INSERT_COLUMNS)[];
const INSERT_MESSAGES = prepared(
  'insert-messages',
  `WITH ins AS (
     INSERT INTO messages (${INSERT_NAMES.join(', ')})
     SELECT * FROM unnest(${INSERT_NAMES.map((c, i) => `$${i + 1}::${INSERT_COLUMNS[c]}[]`).join(', ')})
     ON CONFLICT ((coalesce(api_key_id, 0)), idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
     RETURNING *),
   ev AS (${raiseEvents(
     `(SELECT 'email.suppressed' AS type,
              jsonb_build_object('id', id, 'message_id', message_id, 'to', to_addresses, 'cc', cc_addresses, 'bcc', bcc_addresses,
                                 'suppressed_recipients', suppressed_recipients) AS data
         FROM ins WHERE suppressed_recipients <> '[]'::jsonb ORDER BY id) AS suppressed`,
   )})
   SELECT ins.* FROM ins CROSS JOIN ev`,
);
/** Rows per INSERT: enough to commit a whole batch request at once. */
export const MAX_MESSAGES_PER_INSERT = 500;

export interface MessageFilter {
  apiKeyId?: number | null;
  status?: MessageStatus;
  providerId?: number;
  createdSince?: Date;
  createdUntil?: Date;
}

/** All SQL about messages, attempts and their aggregates. */
@Injectable()
export class MessagesRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private async returning<T>(sql: string, params: unknown[]): Promise<T[]> {
    return returningRows<T>(await this.dataSource.query(sql, params));
  }

  /** Inserts the message; with an idempotency key already used by this API key, returns null instead. */
  async insert(message: NewMessage): Promise<MessageRow | null> {
    return (await this.insertMany([message]))[0] ?? null;
  }

  /**
   * Inserts the messages in one statement (so one commit) and returns the rows written, in no
   * particular order: a message whose idempotency key this API key already used (by an earlier
   * request, or by a message earlier in the same list) gets no row. At most
   * MAX_MESSAGES_PER_INSERT messages.
   */
  async insertMany(messages: NewMessage[]): Promise<MessageRow[]> {
    if (!messages.length) return [];
    if (messages.length > MAX_MESSAGES_PER_INSERT) throw new RangeError(`at most ${MAX_MESSAGES_PER_INSERT} messages per INSERT`);
    // One array per column (unnest), so the text is the same for any number of rows.
    const columns = INSERT_NAMES.map((c) =>
      messages.map((m) => {
        const v = (m as Record<string, unknown>)[c] ?? null;
        return INSERT_COLUMNS[c] === 'jsonb' ? JSON.stringify(v) : v;
      }),
    );
    return this.dataSource.query(INSERT_MESSAGES, columns);
  }

  async findByIdempotencyKey(apiKeyId: number | null, key: string): Promise<MessageRow | null> {
    const rows: MessageRow[] = await this.dataSource.query(
      `SELECT * FROM messages WHERE coalesce(api_key_id, 0) = $1 AND idempotency_key = $2`,
      [apiKeyId ?? 0, key],
    );
    return rows[0] ?? null;
  }

  /** The messages holding these idempotency keys of this API key, by key. */
  async findByIdempotencyKeys(apiKeyId: number | null, keys: string[]): Promise<Map<string, MessageRow>> {
    const rows: MessageRow[] = await this.dataSource.query(
      `SELECT * FROM messages WHERE coalesce(api_key_id, 0) = $1 AND idempotency_key = ANY($2::text[])`,
      [apiKeyId ?? 0, [...new Set(keys)]],
    );
    return new Map(rows.map((r) => [r.idempotency_key as string, r]));
  }

  async findById(id: string): Promise<MessageRow | null> {
    const rows: MessageRow[] = await this.dataSource.query(`SELECT * FROM messages WHERE id = $1`, [id]);
    return rows[0] ?? null;
  }

  async attemptsOf(messageId: string): Promise<AttemptRow[]> {
    return this.dataSource.query(`SELECT * FROM send_attempts WHERE message_id = $1 ORDER BY id`, [messageId]);
  }

  async list(filter: MessageFilter, limit: number, offset: number): Promise<{ count: number; rows: MessageRow[] }> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (filter.apiKeyId !== undefined) add('coalesce(api_key_id, 0) = ?', filter.apiKeyId ?? 0);
    if (filter.status) add('status = ?', filter.status);
    if (filter.providerId) add('provider_id = ?', filter.providerId);
    if (filter.createdSince) add('created_at >= ?', filter.createdSince);
    if (filter.createdUntil) add('created_at < ?', filter.createdUntil);
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const [{ count }] = await this.dataSource.query(`SELECT count(*)::int AS count FROM messages ${clause}`, params);
    const rows: MessageRow[] = await this.dataSource.query(
      `SELECT * FROM messages ${clause} ORDER BY id DESC LIMIT ${Number(limit)} OFFSET ${Number(offset)}`,
      params,
    );
    return { count, rows };
  }

  /**
   * Claims up to `limit` messages for this worker, in one statement: first those whose lease
   * expired (their worker died or lost touch), then those due. SKIP LOCKED lets any number of
   * instances claim side by side without ever taking the same message. Each claim gets a new
   * lease token: the fence. Also answers `providers_version`, so the sending order in memory is
   * never older than the claim.
   */
  async claim(
    owner: string,
    limit: number,
    now: Date,
    leaseSeconds: number,
    held: string[] = [],
  ): Promise<{ messages: MessageRow[]; providersVersion: string }> {
    // `held`: this process's own claims, whose attempts still run (a lease can run out while the
    // database was away): never claimed again by the process that is finishing them.
    const rows = await this.returning<MessageRow & { providers_version: string }>(
      prepared(
        'claim-messages',
        `WITH expired AS (
         SELECT id, lease_expires_at AS due FROM messages
          WHERE status = 'sending' AND lease_expires_at < $2 AND NOT (id = ANY($5::bigint[]))
          ORDER BY lease_expires_at LIMIT $4 FOR UPDATE SKIP LOCKED),
       due AS (
         SELECT id, next_attempt_at AS due FROM messages
          WHERE status IN ('queued', 'scheduled') AND next_attempt_at <= $2
          ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED),
       picked AS (
         SELECT id FROM (SELECT id, 0 AS k, due FROM expired UNION ALL SELECT id, 1, due FROM due) c ORDER BY k, due LIMIT $4)
       UPDATE messages SET status = 'sending', lease_owner = $1, lease_expires_at = $2::timestamptz + make_interval(secs => $3),
              lease_token = nextval('message_lease_tokens'), attempt_count = attempt_count + 1, awaiting_provider = false,
              updated_at = now()
        WHERE id IN (SELECT id FROM picked)
        RETURNING messages.*, (SELECT version FROM providers_version)::text AS providers_version`,
      ),
      [owner, now, leaseSeconds, limit, held],
    );
    const providersVersion = rows[0]?.providers_version ?? '';
    return {
      messages: rows.map(({ providers_version: _v, ...m }) => m as MessageRow),
      providersVersion,
    };
  }

  /** A lease token for a message this process inserts already claimed (a provider test). */
  async nextLeaseToken(): Promise<string> {
    const [{ token }] = await this.dataSource.query(`SELECT nextval('message_lease_tokens')::text AS token`);
    return token as string;
  }

  /**
   * Extends every lease still held, in one statement; answers the ids whose lease is still ours.
   * Rows are locked in id order, as the batched final write locks them, so the two never deadlock.
   */
  async renewLeases(leases: Lease[], now: Date, leaseSeconds: number): Promise<Set<string>> {
    if (!leases.length) return new Set();
    const rows = await this.returning<{ id: string }>(
      `UPDATE messages m SET lease_expires_at = $3::timestamptz + make_interval(secs => $4)
         FROM unnest($1::bigint[], $2::bigint[]) AS held (id, token)
        WHERE m.id = held.id AND m.lease_token = held.token AND m.status = 'sending'
          AND m.id IN (SELECT id FROM messages WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE)
        RETURNING m.id::text AS id`,
      [leases.map((l) => l.id), leases.map((l) => l.token), now, leaseSeconds],
    );
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Writes the outcomes of many claims in ONE statement, so one round trip and one commit:
   * - each message's final state (sent, failed, back to the queue), fenced by its claim's lease
   *   token: a claim that was taken over changes nothing;
   * - the claims' limits reservations settled (rate_limit_settle_many): one counts as sent only if
   *   it `counts` and its message's write won, else it is given back;
   * - the attempts and, for the writes that lost, a stale result of their provider, added to the
   *   daily aggregates (left out with `withAttempts` false).
   * Locks are taken in one order by every such statement (messages by id, then reservations and
   * usage rows as rate_limit_settle_many orders them, then aggregates by provider and day), so
   * concurrent batches never deadlock. Answers the ids whose write won.
   */
  async finishBatch(outcomes: BatchOutcome[], now: Date, withAttempts = true): Promise<Set<string>> {
    if (!outcomes.length) return new Set();
    const col = <T>(pick: (f: Finish) => T) => outcomes.map((o) => pick(o.finish));
    const settlements = outcomes.flatMap((o) => o.reservations.map((r) => ({ ...r, messageId: o.lease.id })));
    const attempts = withAttempts ? outcomes.flatMap((o) => o.attempts) : [];
    const [row] = (await this.dataSource.query(
      prepared(
        'finish-messages',
        `WITH input AS (
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::varchar[], $4::int[], $5::jsonb[], $6::boolean[], $7::text[],
                              $8::timestamptz[], $9::int[], $10::boolean[], $11::int[])
           AS i (id, token, status, provider_id, rejected, uncertain, error, next_attempt_at, preferred_provider_id, awaiting,
                 result_provider_id)),
       marked AS (
         UPDATE messages m SET
                status = i.status,
                provider_id = coalesce(i.provider_id, m.provider_id),
                rejected_recipients = CASE WHEN i.status = 'queued' THEN m.rejected_recipients ELSE i.rejected END,
                outcome_uncertain = m.outcome_uncertain OR i.uncertain,
                uncertain_count = m.uncertain_count + i.uncertain::int,
                last_error = CASE i.status WHEN 'sent' THEN NULL WHEN 'queued' THEN coalesce(i.error, m.last_error) ELSE i.error END,
                next_attempt_at = coalesce(i.next_attempt_at, m.next_attempt_at),
                preferred_provider_id = CASE WHEN i.status = 'queued' THEN i.preferred_provider_id ELSE m.preferred_provider_id END,
                awaiting_provider = CASE WHEN i.status = 'queued' THEN i.awaiting ELSE m.awaiting_provider END,
                sent_at = CASE WHEN i.status = 'sent' THEN now() ELSE m.sent_at END,
                failed_at = CASE WHEN i.status = 'failed' THEN now() ELSE m.failed_at END,
                updated_at = now(), lease_owner = NULL, lease_expires_at = NULL, lease_token = NULL
           FROM input i
          WHERE m.id = i.id AND m.lease_token = i.token AND m.status = 'sending'
            AND m.id IN (SELECT id FROM messages WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE)
         RETURNING m.id, m.status, m.message_id, m.is_test, m.to_addresses, m.cc_addresses, m.bcc_addresses, m.provider_id,
                   m.rejected_recipients, m.last_error, m.next_attempt_at, m.attempt_count),
       settled AS (
         SELECT rate_limit_settle_many(coalesce(array_agg(s.reservation_id), '{}'),
                                       coalesce(array_agg(s.counts AND s.message_id IN (SELECT id FROM marked)), '{}'),
                                       $12::timestamptz) AS n
           FROM unnest($13::bigint[], $14::bigint[], $15::boolean[]) AS s (reservation_id, message_id, counts)),
       attempt AS (${insertAttempts(16)}),
       counted AS (
         ${counted('attempt')}
         UNION ALL
         SELECT result_provider_id, ($12::timestamptz AT TIME ZONE 'UTC')::date, 0, 0, 0, 1 FROM input
          WHERE $26::boolean AND result_provider_id IS NOT NULL AND id NOT IN (SELECT id FROM marked)),
       aggregated AS (${upsertDailyStats('counted')}),
       events AS (${raiseEvents(`(${MESSAGE_EVENTS}) AS e`)})
       SELECT (SELECT n FROM settled) AS settled, (SELECT coalesce(array_agg(id::text), '{}') FROM marked) AS won,
              (SELECT raised FROM events) AS raised`,
      ),
      [
        outcomes.map((o) => o.lease.id),
        outcomes.map((o) => o.lease.token),
        col((f) => f.status),
        col((f) => (f.status === 'queued' ? null : f.providerId)),
        col((f) => JSON.stringify(f.status === 'sent' ? f.rejected : [])),
        col((f) => f.status !== 'sent' && (f.uncertain ?? false)),
        col((f) => (f.status === 'sent' ? null : f.error)),
        col((f) => (f.status === 'queued' ? f.at : null)),
        col((f) => (f.status === 'queued' ? f.preferredProviderId : null)),
        col((f) => (f.status === 'queued' ? (f.awaitingProvider ?? false) : false)),
        outcomes.map((o) => o.providerId),
        now,
        settlements.map((r) => r.reservationId),
        settlements.map((r) => r.messageId),
        settlements.map((r) => r.counts),
        ...attemptColumns(attempts),
        withAttempts,
      ],
    )) as { settled: number; won: string[] }[];
    return new Set(row.won);
  }

  /** Records attempts made under a claim that was lost before its outcome (nothing else to write). */
  async recordAttempts(attempts: NewAttempt[]): Promise<void> {
    if (!attempts.length) return;
    await this.dataSource.query(
      `WITH attempt AS (${insertAttempts(1)}),
       counted AS (${counted('attempt')})
       ${upsertDailyStats('counted')}`,
      attemptColumns(attempts),
    );
  }

  /** A provider recovered: messages that were waiting for any provider are due now. */
  async wakeAwaitingProvider(now: Date): Promise<number> {
    const rows = await this.returning<unknown>(
      `UPDATE messages SET next_attempt_at = $1, awaiting_provider = false
        WHERE status = 'queued' AND awaiting_provider AND next_attempt_at > $1 RETURNING id`,
      [now],
    );
    return rows.length;
  }

  /** Counts a failover and raises `provider.failover`, in one statement. */
  async recordFailover(
    fromProviderId: number,
    toProviderId: number,
    message: Pick<MessageRow, 'id' | 'message_id'>,
    error: string | null,
  ): Promise<void> {
    await this.dataSource.query(
      `WITH counted AS (
         INSERT INTO provider_failovers AS f (from_provider_id, to_provider_id, count, last_at) VALUES ($1, $2, 1, now())
         ON CONFLICT (from_provider_id, to_provider_id) DO UPDATE SET count = f.count + 1, last_at = now()),
       events AS (${raiseEvents(`(
         SELECT 'provider.failover' AS type,
                jsonb_build_object(
                  'from_provider', (SELECT jsonb_build_object('id', id, 'name', name, 'provider_type', provider_type) FROM providers WHERE id = $1),
                  'to_provider', (SELECT jsonb_build_object('id', id, 'name', name, 'provider_type', provider_type) FROM providers WHERE id = $2),
                  'message', jsonb_build_object('id', $3::bigint, 'message_id', $4::text),
                  'error', $5::text) AS data
          WHERE EXISTS (SELECT 1 FROM webhooks WHERE is_active)) AS e`)})
       SELECT raised FROM events`,
      [fromProviderId, toProviderId, message.id, message.message_id, error],
    );
  }
}

/**
 * The events a batch of final writes raises, as rows (type, data) over the CTEs of finishBatch:
 * `email.sent` and `email.failed` for the writes that won, `email.deferred` for a claim whose
 * attempts failed and that goes back to the queue (not for one that found no provider free, which
 * made no attempt). With the last attempt's reply. Built only while an endpoint is active: the
 * uncorrelated EXISTS is evaluated once, so with no webhooks the rows are never built.
 */
const MESSAGE_EVENTS = `
  SELECT CASE mk.status WHEN 'sent' THEN 'email.sent' WHEN 'failed' THEN 'email.failed' ELSE 'email.deferred' END AS type,
         jsonb_build_object(
           'id', mk.id, 'message_id', mk.message_id, 'is_test', mk.is_test,
           'to', mk.to_addresses, 'cc', mk.cc_addresses, 'bcc', mk.bcc_addresses,
           'provider', CASE WHEN p.id IS NOT NULL THEN jsonb_build_object('id', p.id, 'name', p.name, 'provider_type', p.provider_type) END,
           'reply', CASE WHEN la.id IS NOT NULL
                    THEN jsonb_build_object('outcome', la.outcome, 'smtp_code', la.smtp_code, 'smtp_reply', la.smtp_reply,
                                            'provider_message_id', la.provider_message_id) END,
           'rejected_recipients', CASE WHEN mk.status = 'sent' THEN mk.rejected_recipients END,
           'error', CASE WHEN mk.status <> 'sent' THEN mk.last_error END,
           'next_attempt_at', CASE WHEN mk.status = 'queued' THEN mk.next_attempt_at END,
           'attempt_count', mk.attempt_count) AS data
    FROM marked mk
    LEFT JOIN (SELECT DISTINCT ON (message_id) * FROM attempt ORDER BY message_id, id DESC) la ON la.message_id = mk.id
    LEFT JOIN providers p ON p.id = CASE WHEN mk.status = 'queued' THEN la.provider_id ELSE coalesce(mk.provider_id, la.provider_id) END
   WHERE EXISTS (SELECT 1 FROM webhooks WHERE is_active)
     AND (mk.status IN ('sent', 'failed') OR la.id IS NOT NULL)`;

/** `INSERT INTO send_attempts` from ten parallel arrays, bound from `$first` on (see attemptColumns). */
function insertAttempts(first: number): string {
  const types = ['bigint', 'int', 'timestamptz', 'int', 'varchar', 'int', 'text', 'varchar', 'jsonb', 'varchar'];
  return `INSERT INTO send_attempts (message_id, provider_id, started_at, response_time_ms, outcome, smtp_code, smtp_reply, error_code, rejected_recipients,
                                     provider_message_id)
          SELECT * FROM unnest(${types.map((t, i) => `$${first + i}::${t}[]`).join(', ')})
          RETURNING id, message_id, provider_id, started_at, response_time_ms, outcome, smtp_code, smtp_reply, provider_message_id`;
}

function attemptColumns(attempts: NewAttempt[]): unknown[] {
  return [
    attempts.map((a) => a.message_id),
    attempts.map((a) => a.provider_id),
    attempts.map((a) => a.started_at),
    attempts.map((a) => a.response_time_ms),
    attempts.map((a) => a.outcome),
    attempts.map((a) => a.smtp_code),
    attempts.map((a) => a.smtp_reply),
    attempts.map((a) => a.error_code),
    attempts.map((a) => JSON.stringify(a.rejected_recipients)),
    attempts.map((a) => a.provider_message_id),
  ];
}

/** The attempts inserted by CTE `from`, as rows for the daily aggregate. */
function counted(from: string): string {
  return `SELECT provider_id, (started_at AT TIME ZONE 'UTC')::date AS day, 1 AS attempts, (outcome = 'accepted')::int AS accepted,
                 response_time_ms::bigint AS ms, 0 AS stale FROM ${from}`;
}

/** Adds the rows of CTE `from` to each provider's daily aggregate, in (provider, day) order so concurrent writers never deadlock. */
function upsertDailyStats(from: string): string {
  return `INSERT INTO provider_daily_stats AS s (provider_id, day, attempts, accepted, response_time_ms_sum, stale_results)
          SELECT provider_id, day, sum(attempts), sum(accepted), sum(ms), sum(stale) FROM ${from}
           GROUP BY provider_id, day ORDER BY provider_id, day
          ON CONFLICT (provider_id, day) DO UPDATE
            SET attempts = s.attempts + EXCLUDED.attempts, accepted = s.accepted + EXCLUDED.accepted,
                response_time_ms_sum = s.response_time_ms_sum + EXCLUDED.response_time_ms_sum,
                stale_results = s.stale_results + EXCLUDED.stale_results`;
}
