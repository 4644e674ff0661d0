/** Every event type an endpoint can subscribe to (`["*"]` subscribes to all of them). */
export const WEBHOOK_EVENT_TYPES = [
  'email.sent',
  'email.deferred',
  'email.failed',
  'email.bounced',
  'email.complained',
  'email.suppressed',
  'provider.unhealthy',
  'provider.recovered',
  'provider.failover',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** Sent by `POST /webhooks/{id}/test/` to that endpoint alone, whatever it subscribes to. */
export const WEBHOOK_TEST_EVENT = 'webhook.test';

/**
 * SQL that raises events from inside a statement: a CTE body over `from`, a query (or CTE name)
 * with columns `type` (text) and `data` (jsonb). Put it in a `WITH` and reference the CTE from the
 * statement's result, or PostgreSQL never runs it; it yields exactly one row, `raised`, the number
 * of deliveries queued. The events commit or roll back with the rest of the statement.
 */
export function raiseEvents(from: string): string {
  return `SELECT webhook_raise(coalesce(array_agg(type::text), '{}'), coalesce(array_agg(data::jsonb), '{}')) AS raised FROM ${from}`;
}
