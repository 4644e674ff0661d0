import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { returningRows } from '../providers/providers.repository.js';
import type { AttemptRow, Lease, MessageRow, MessageStatus, NewAttempt, NewMessage, RejectedRecipient } from './message.types.js';

const INSERT_COLUMNS = [
  'api_key_id',
  'idempotency_key',
  'request_hash',
  'status',
  'is_test',
  'message_id',
  'from_email',
  'from_name',
  'reply_to',
  'to_addresses',
  'cc_addresses',
  'bcc_addresses',
  'subject',
  'text_body',
  'html_body',
  'headers',
  'attachments',
  'pinned_provider_id',
  'send_at',
  'next_attempt_at',
  'lease_owner',
  'lease_expires_at',
  'lease_token',
] as const;
const JSON_COLUMNS = new Set(['to_addresses', 'cc_addresses', 'bcc_addresses', 'headers', 'attachments']);
/** PostgreSQL's protocol carries at most 65,535 bind parameters in one statement. */
const MAX_BIND_PARAMETERS = 65_535;
/** Rows per multi-row INSERT: enough to commit a whole batch request at once, far below the parameter limit. */
export const MAX_MESSAGES_PER_INSERT = Math.min(500, Math.floor(MAX_BIND_PARAMETERS / INSERT_COLUMNS.length));

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
    const values: unknown[] = [];
    const tuples = messages.map((message) => {
      const placeholders = INSERT_COLUMNS.map((c) => {
        const v = (message as Record<string, unknown>)[c] ?? null;
        values.push(JSON_COLUMNS.has(c) ? JSON.stringify(v) : v);
        return `$${values.length}`;
      });
      return `(${placeholders.join(', ')})`;
    });
    return this.dataSource.query(
      `INSERT INTO messages (${INSERT_COLUMNS.join(', ')})
       VALUES ${tuples.join(', ')}
       ON CONFLICT ((coalesce(api_key_id, 0)), idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
       RETURNING *`,
      values,
    );
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
   * Claims up to `limit` messages for this worker: first those whose lease expired (their worker
   * died or lost touch), then those due. SKIP LOCKED lets any number of instances claim side by
   * side without ever taking the same message. Each claim gets a new lease token: the fence.
   */
  async claim(owner: string, limit: number, now: Date, leaseSeconds: number, held: string[] = []): Promise<MessageRow[]> {
    // `held`: this process's own claims, whose attempts still run (a lease can run out while the
    // database was away): never claimed again by the process that is finishing them.
    const claimed = await this.returning<MessageRow>(
      `UPDATE messages SET status = 'sending', lease_owner = $1, lease_expires_at = $2::timestamptz + make_interval(secs => $3),
              lease_token = nextval('message_lease_tokens'), attempt_count = attempt_count + 1, updated_at = now()
        WHERE id IN (SELECT id FROM messages WHERE status = 'sending' AND lease_expires_at < $2 AND NOT (id = ANY($5::bigint[]))
                     ORDER BY lease_expires_at LIMIT $4 FOR UPDATE SKIP LOCKED)
        RETURNING *`,
      [owner, now, leaseSeconds, limit, held],
    );
    if (claimed.length >= limit) return claimed;
    const due = await this.returning<MessageRow>(
      `UPDATE messages SET status = 'sending', lease_owner = $1, lease_expires_at = $2::timestamptz + make_interval(secs => $3),
              lease_token = nextval('message_lease_tokens'), attempt_count = attempt_count + 1, awaiting_provider = false,
              updated_at = now()
        WHERE id IN (SELECT id FROM messages WHERE status IN ('queued', 'scheduled') AND next_attempt_at <= $2
                     ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED)
        RETURNING *`,
      [owner, now, leaseSeconds, limit - claimed.length],
    );
    return claimed.concat(due);
  }

  /** A lease token for a message this process inserts already claimed (a provider test). */
  async nextLeaseToken(): Promise<string> {
    const [{ token }] = await this.dataSource.query(`SELECT nextval('message_lease_tokens')::text AS token`);
    return token as string;
  }

  /** Extends every lease still held, in one statement; answers the ids whose lease is still ours. */
  async renewLeases(leases: Lease[], now: Date, leaseSeconds: number): Promise<Set<string>> {
    if (!leases.length) return new Set();
    const rows = await this.returning<{ id: string }>(
      `UPDATE messages m SET lease_expires_at = $3::timestamptz + make_interval(secs => $4)
         FROM unnest($1::bigint[], $2::bigint[]) AS held (id, token)
        WHERE m.id = held.id AND m.lease_token = held.token AND m.status = 'sending'
        RETURNING m.id::text AS id`,
      [leases.map((l) => l.id), leases.map((l) => l.token), now, leaseSeconds],
    );
    return new Set(rows.map((r) => r.id));
  }

  // The final writes are fenced by the lease token: a worker whose claim was taken over changes nothing.

  async markSent(lease: Lease, providerId: number, rejected: RejectedRecipient[], uncertain: boolean): Promise<boolean> {
    const rows = await this.returning<unknown>(
      `UPDATE messages SET status = 'sent', provider_id = $3, rejected_recipients = $4, outcome_uncertain = outcome_uncertain OR $5,
              sent_at = now(), updated_at = now(), lease_owner = NULL, lease_expires_at = NULL, lease_token = NULL, last_error = NULL
        WHERE id = $1 AND lease_token = $2 AND status = 'sending' RETURNING id`,
      [lease.id, lease.token, providerId, JSON.stringify(rejected), uncertain],
    );
    return rows.length > 0;
  }

  async markFailed(
    lease: Lease,
    providerId: number | null,
    error: string,
    opts: { rejected?: RejectedRecipient[]; uncertain?: boolean } = {},
  ): Promise<boolean> {
    const rows = await this.returning<unknown>(
      `UPDATE messages SET status = 'failed', provider_id = coalesce($3, provider_id), last_error = $4, rejected_recipients = $5,
              outcome_uncertain = outcome_uncertain OR $6, uncertain_count = uncertain_count + $6::int,
              failed_at = now(), updated_at = now(), lease_owner = NULL, lease_expires_at = NULL, lease_token = NULL
        WHERE id = $1 AND lease_token = $2 AND status = 'sending' RETURNING id`,
      [lease.id, lease.token, providerId, error, JSON.stringify(opts.rejected ?? []), opts.uncertain ?? false],
    );
    return rows.length > 0;
  }

  /**
   * Back to the queue until `at`. `preferredProviderId` is tried first then (after an uncertain
   * outcome, which is also counted); `awaitingProvider` marks a message no provider could take,
   * which moves forward as soon as one recovers.
   */
  async reschedule(
    lease: Lease,
    at: Date,
    error: string | null,
    opts: { preferredProviderId?: number | null; uncertain?: boolean; awaitingProvider?: boolean } = {},
  ): Promise<boolean> {
    const rows = await this.returning<unknown>(
      `UPDATE messages SET status = 'queued', next_attempt_at = $3, last_error = coalesce($4, last_error),
              preferred_provider_id = $5, outcome_uncertain = outcome_uncertain OR $6, uncertain_count = uncertain_count + $6::int,
              awaiting_provider = $7, updated_at = now(), lease_owner = NULL, lease_expires_at = NULL, lease_token = NULL
        WHERE id = $1 AND lease_token = $2 AND status = 'sending' RETURNING id`,
      [lease.id, lease.token, at, error, opts.preferredProviderId ?? null, opts.uncertain ?? false, opts.awaitingProvider ?? false],
    );
    return rows.length > 0;
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

  /** An attempt's result was discarded because its claim had been taken over: counted per provider and day. */
  async recordStaleResult(providerId: number, at: Date): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO provider_daily_stats AS s (provider_id, day, stale_results) VALUES ($1, ($2::timestamptz AT TIME ZONE 'UTC')::date, 1)
       ON CONFLICT (provider_id, day) DO UPDATE SET stale_results = s.stale_results + 1`,
      [providerId, at],
    );
  }

  /** Records one attempt and adds it to the provider's daily aggregate, in one statement. */
  async recordAttempt(a: NewAttempt): Promise<void> {
    await this.dataSource.query(
      `WITH attempt AS (
         INSERT INTO send_attempts (message_id, provider_id, started_at, response_time_ms, outcome, smtp_code, smtp_reply, error_code, rejected_recipients)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING provider_id)
       INSERT INTO provider_daily_stats AS s (provider_id, day, attempts, accepted, response_time_ms_sum)
       SELECT provider_id, ($3::timestamptz AT TIME ZONE 'UTC')::date, 1, CASE WHEN $5 = 'accepted' THEN 1 ELSE 0 END, $4 FROM attempt
       ON CONFLICT (provider_id, day) DO UPDATE
         SET attempts = s.attempts + 1, accepted = s.accepted + EXCLUDED.accepted, response_time_ms_sum = s.response_time_ms_sum + EXCLUDED.response_time_ms_sum`,
      [
        a.message_id,
        a.provider_id,
        a.started_at,
        a.response_time_ms,
        a.outcome,
        a.smtp_code,
        a.smtp_reply,
        a.error_code,
        JSON.stringify(a.rejected_recipients),
      ],
    );
  }

  async recordFailover(fromProviderId: number, toProviderId: number): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO provider_failovers AS f (from_provider_id, to_provider_id, count, last_at) VALUES ($1, $2, 1, now())
       ON CONFLICT (from_provider_id, to_provider_id) DO UPDATE SET count = f.count + 1, last_at = now()`,
      [fromProviderId, toProviderId],
    );
  }
}
