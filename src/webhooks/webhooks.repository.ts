import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { returningRows } from '../providers/providers.repository.js';
import { WEBHOOK_TEST_EVENT } from './webhook-events.js';

/** A row of `webhooks`; the secrets are Fernet tokens. */
export interface WebhookRow {
  id: number;
  url: string;
  description: string;
  events: string[];
  is_active: boolean;
  secret_encrypted: string;
  previous_secret_encrypted: string | null;
  previous_secret_expires_at: Date | null;
  disabled_at: Date | null;
  disabled_reason: string | null;
  created_at: Date;
  updated_at: Date;
}

export type DeliveryStatus = 'pending' | 'delivering' | 'delivered' | 'failed';

/** A delivery with its event, as the deliveries list and the dispatcher read it. */
export interface DeliveryRow {
  id: string;
  webhook_id: number;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: Date;
  lease_token: string | null;
  last_status_code: number | null;
  last_error: string | null;
  last_attempt_at: Date | null;
  delivered_at: Date | null;
  created_at: Date;
  event_id: string;
  event_type: string;
  event_data: Record<string, unknown>;
  event_created_at: Date;
}

/** How one delivery attempt ended, as the dispatcher writes it. */
/** A claimed delivery with what it takes to send it. */
export interface ClaimedDelivery extends DeliveryRow {
  url: string;
  secret_encrypted: string;
  previous_secret_encrypted: string | null;
  previous_secret_expires_at: Date | null;
}

export type DeliveryOutcome =
  | { status: 'delivered'; statusCode: number }
  | { status: 'pending'; statusCode: number | null; error: string; retryAt: Date }
  | { status: 'failed'; statusCode: number | null; error: string; disableWebhook?: string };

export interface WebhookValues {
  url?: string;
  description?: string;
  events?: string[];
  isActive?: boolean;
}

export type DeliveryCounts = Record<DeliveryStatus, number>;

const DELIVERY_COLUMNS = `d.id::text AS id, d.webhook_id, d.status, d.attempts, d.next_attempt_at, d.lease_token::text AS lease_token,
  d.last_status_code, d.last_error, d.last_attempt_at, d.delivered_at, d.created_at,
  e.event_id::text AS event_id, e.type AS event_type, e.data AS event_data, e.created_at AS event_created_at`;

/** All SQL about webhook endpoints and their deliveries. */
@Injectable()
export class WebhooksRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private async rows<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return returningRows<T>(await this.dataSource.query(sql, params));
  }

  async create(values: Required<WebhookValues>, secretEncrypted: string): Promise<WebhookRow> {
    const [row] = await this.rows<WebhookRow>(
      `INSERT INTO webhooks (url, description, events, is_active, secret_encrypted) VALUES ($1, $2, $3, $4, $5) RETURNING *`,
      [values.url, values.description, JSON.stringify(values.events), values.isActive, secretEncrypted],
    );
    return row;
  }

  list(): Promise<WebhookRow[]> {
    return this.rows(`SELECT * FROM webhooks ORDER BY id`);
  }

  async findById(id: number): Promise<WebhookRow | null> {
    return (await this.rows<WebhookRow>(`SELECT * FROM webhooks WHERE id = $1`, [id]))[0] ?? null;
  }

  /** Turning an endpoint on again clears why it was turned off. */
  async update(id: number, values: WebhookValues): Promise<WebhookRow | null> {
    const [row] = await this.rows<WebhookRow>(
      `UPDATE webhooks SET url = coalesce($2, url), description = coalesce($3, description), events = coalesce($4::jsonb, events),
              is_active = coalesce($5, is_active),
              disabled_at = CASE WHEN $5 THEN NULL ELSE disabled_at END,
              disabled_reason = CASE WHEN $5 THEN NULL ELSE disabled_reason END,
              updated_at = now()
        WHERE id = $1 RETURNING *`,
      [id, values.url ?? null, values.description ?? null, values.events ? JSON.stringify(values.events) : null, values.isActive ?? null],
    );
    return row ?? null;
  }

  /** Deletes the endpoint and its deliveries. */
  async delete(id: number): Promise<boolean> {
    return (await this.rows(`DELETE FROM webhooks WHERE id = $1 RETURNING id`, [id])).length > 0;
  }

  /** The new secret signs from now on; the current one keeps signing beside it until `previousUntil`. */
  async rotateSecret(id: number, secretEncrypted: string, previousUntil: Date): Promise<WebhookRow | null> {
    const [row] = await this.rows<WebhookRow>(
      `UPDATE webhooks SET previous_secret_encrypted = secret_encrypted, previous_secret_expires_at = $3,
              secret_encrypted = $2, updated_at = now()
        WHERE id = $1 RETURNING *`,
      [id, secretEncrypted, previousUntil],
    );
    return row ?? null;
  }

  /**
   * Re-seals each endpoint's secrets with `reseal` (null: already under the primary key), one row
   * at a time under a row lock; answers how many rows held secrets and how many were rewritten.
   */
  async resealSecrets(reseal: (token: string) => string | null): Promise<{ examined: number; rotated: number }> {
    const ids = (await this.rows<{ id: number }>(`SELECT id FROM webhooks ORDER BY id`)).map((r) => r.id);
    let rotated = 0;
    for (const id of ids) {
      const changed = await this.dataSource.transaction(async (em) => {
        const [row] = (await em.query(`SELECT secret_encrypted, previous_secret_encrypted FROM webhooks WHERE id = $1 FOR UPDATE`, [
          id,
        ])) as Pick<WebhookRow, 'secret_encrypted' | 'previous_secret_encrypted'>[];
        if (!row) return false;
        const secret = reseal(row.secret_encrypted);
        const previous = row.previous_secret_encrypted ? reseal(row.previous_secret_encrypted) : null;
        if (!secret && !previous) return false;
        await em.query(`UPDATE webhooks SET secret_encrypted = $2, previous_secret_encrypted = $3 WHERE id = $1`, [
          id,
          secret ?? row.secret_encrypted,
          previous ?? row.previous_secret_encrypted,
        ]);
        return true;
      });
      if (changed) rotated += 1;
    }
    return { examined: ids.length, rotated };
  }

  /** Every endpoint's deliveries by status. */
  async deliveryCounts(webhookIds: number[]): Promise<Map<number, DeliveryCounts>> {
    const rows = await this.rows<{ webhook_id: number; status: DeliveryStatus; n: number }>(
      `SELECT webhook_id, status, count(*)::int AS n FROM webhook_deliveries WHERE webhook_id = ANY($1::int[]) GROUP BY webhook_id, status`,
      [webhookIds],
    );
    const counts = new Map<number, DeliveryCounts>(webhookIds.map((id) => [id, { pending: 0, delivering: 0, delivered: 0, failed: 0 }]));
    for (const r of rows) {
      const c = counts.get(r.webhook_id);
      if (c) c[r.status] = r.n;
    }
    return counts;
  }

  async deliveries(webhookId: number, limit: number, offset: number): Promise<{ count: number; rows: DeliveryRow[] }> {
    const [{ count }] = await this.rows<{ count: number }>(`SELECT count(*)::int AS count FROM webhook_deliveries WHERE webhook_id = $1`, [
      webhookId,
    ]);
    const rows = await this.rows<DeliveryRow>(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
        WHERE d.webhook_id = $1 ORDER BY d.id DESC LIMIT ${Number(limit)} OFFSET ${Number(offset)}`,
      [webhookId],
    );
    return { count, rows };
  }

  async delivery(id: string): Promise<DeliveryRow | null> {
    const rows = await this.rows<DeliveryRow>(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id WHERE d.id = $1`,
      [id],
    );
    return rows[0] ?? null;
  }

  /** A `webhook.test` event for this endpoint alone, due now. */
  async raiseTest(webhookId: number, data: Record<string, unknown>): Promise<string> {
    const [row] = await this.rows<{ id: string }>(
      `WITH ev AS (INSERT INTO webhook_events (type, data) VALUES ($2, $3) RETURNING id)
       INSERT INTO webhook_deliveries (event_id, webhook_id) SELECT id, $1 FROM ev RETURNING id::text AS id`,
      [webhookId, WEBHOOK_TEST_EVENT, JSON.stringify(data)],
    );
    return row.id;
  }

  /**
   * Claims up to `limit` deliveries for this dispatcher in one statement: those whose lease ran
   * out (their dispatcher died) first, then those due, of active endpoints only. SKIP LOCKED lets
   * every instance claim side by side without taking the same delivery; each claim gets a new
   * lease token, which fences the outcome write. `only`: claim just this delivery if it is due.
   */
  async claim(owner: string, limit: number, now: Date, leaseSeconds: number, only: string | null = null): Promise<ClaimedDelivery[]> {
    return this.rows<ClaimedDelivery>(
      `WITH expired AS (
         SELECT d.id, d.lease_expires_at AS due FROM webhook_deliveries d
          WHERE d.status = 'delivering' AND d.lease_expires_at < $2 AND ($5::bigint IS NULL OR d.id = $5)
          ORDER BY d.lease_expires_at LIMIT $3 FOR UPDATE SKIP LOCKED),
       due AS (
         SELECT d.id, d.next_attempt_at AS due FROM webhook_deliveries d
          WHERE d.status = 'pending' AND d.next_attempt_at <= $2 AND ($5::bigint IS NULL OR d.id = $5)
            AND ($5::bigint IS NOT NULL OR EXISTS (SELECT 1 FROM webhooks w WHERE w.id = d.webhook_id AND w.is_active))
          ORDER BY d.next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED),
       picked AS (
         SELECT id FROM (SELECT id, 0 AS k, due FROM expired UNION ALL SELECT id, 1, due FROM due) c ORDER BY k, due LIMIT $3),
       claimed AS (
         UPDATE webhook_deliveries d SET status = 'delivering', lease_owner = $1,
                lease_expires_at = $2::timestamptz + make_interval(secs => $4), lease_token = nextval('webhook_lease_tokens'),
                attempts = d.attempts + 1, updated_at = now()
          WHERE d.id IN (SELECT id FROM picked)
          RETURNING d.*)
       SELECT ${DELIVERY_COLUMNS}, w.url, w.secret_encrypted, w.previous_secret_encrypted, w.previous_secret_expires_at
         FROM claimed d JOIN webhook_events e ON e.id = d.event_id JOIN webhooks w ON w.id = d.webhook_id ORDER BY d.id`,
      [owner, now, limit, leaseSeconds, only],
    );
  }

  /**
   * Writes how a claimed delivery ended, fenced by its lease token (a claim taken over writes
   * nothing); a 410 also turns its endpoint off, in the same statement. Answers whether it was ours.
   */
  async finish(id: string, token: string, outcome: DeliveryOutcome, now: Date): Promise<boolean> {
    const rows = await this.rows<{ id: string }>(
      `WITH done AS (
         UPDATE webhook_deliveries SET status = $3::varchar, last_status_code = $4, last_error = $5, last_attempt_at = $7,
                next_attempt_at = coalesce($6, next_attempt_at), delivered_at = CASE WHEN $3::varchar = 'delivered' THEN $7::timestamptz END,
                lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, updated_at = now()
          WHERE id = $1 AND lease_token = $2 AND status = 'delivering'
          RETURNING id, webhook_id),
       disabled AS (
         UPDATE webhooks w SET is_active = false, disabled_at = $7, disabled_reason = $8, updated_at = now()
           FROM done WHERE $8::text IS NOT NULL AND w.id = done.webhook_id AND w.is_active
          RETURNING w.id)
       SELECT done.id::text AS id FROM done LEFT JOIN disabled ON true`,
      [
        id,
        token,
        outcome.status,
        outcome.statusCode,
        outcome.status === 'delivered' ? null : outcome.error,
        outcome.status === 'pending' ? outcome.retryAt : null,
        now,
        outcome.status === 'failed' ? (outcome.disableWebhook ?? null) : null,
      ],
    );
    return rows.length > 0;
  }
}
