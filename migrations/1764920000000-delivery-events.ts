import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Delivery events (issue #14): signed webhooks fed by an outbox, a suppression list, and what
 * Amazon SES reports back about a message (bounces, complaints, deliveries).
 *
 * - `webhooks`: endpoints, their subscribed event types and Fernet-encrypted signing secrets (the
 *   previous one kept beside the new one for a while after a rotation).
 * - `webhook_events`: the outbox. An event is written by the same statement (so the same
 *   transaction) as the state change that causes it, through `webhook_raise`, and only when some
 *   active endpoint subscribes to its type. `event_id` is the `webhook-id` receivers deduplicate by.
 * - `webhook_deliveries`: one row per event and endpoint, the queue the dispatchers of every
 *   instance claim from (SKIP LOCKED, leases fenced by `lease_token`, as for messages).
 * - `providers` health changes raise `provider.unhealthy` / `provider.recovered` from a trigger,
 *   so every path that changes health_status raises them in its own transaction.
 * - `suppressions`: addresses no message is sent to, unique case-insensitively.
 * - `send_attempts.provider_message_id`: the id the provider gave the message (SES's MessageId),
 *   by which SES notifications find our message.
 * - `message_feedback`: bounces, complaints and deliveries reported for a message, unique by the
 *   notification's id (SNS delivers at least once).
 * - `messages.suppressed_recipients`: the recipients removed at /send/ because they are suppressed.
 * - `providers.ses_configuration_set`: the SES configuration set a provider's messages are sent
 *   with (its event destination is the SNS topic that reports back).
 */
export class DeliveryEvents1764920000000 implements MigrationInterface {
  name = 'DeliveryEvents1764920000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE webhooks (
        id serial PRIMARY KEY,
        url text NOT NULL,
        description varchar(255) NOT NULL DEFAULT '',
        events jsonb NOT NULL,
        is_active boolean NOT NULL DEFAULT true,
        secret_encrypted text NOT NULL,
        previous_secret_encrypted text,
        previous_secret_expires_at timestamptz,
        disabled_at timestamptz,
        disabled_reason text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE webhook_events (
        id bigserial PRIMARY KEY,
        event_id uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
        type varchar(64) NOT NULL,
        data jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE webhook_deliveries (
        id bigserial PRIMARY KEY,
        event_id bigint NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
        webhook_id integer NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
        status varchar(16) NOT NULL DEFAULT 'pending',
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        lease_owner varchar(128),
        lease_token bigint,
        lease_expires_at timestamptz,
        last_status_code integer,
        last_error text,
        last_attempt_at timestamptz,
        delivered_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'`);
    await q.query(`CREATE INDEX webhook_deliveries_leased ON webhook_deliveries (lease_expires_at) WHERE status = 'delivering'`);
    await q.query(`CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id)`);
    await q.query(`CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id)`);
    await q.query(`CREATE INDEX webhook_events_created ON webhook_events (created_at)`);
    await q.query(`CREATE SEQUENCE webhook_lease_tokens`);

    // Raises events: one outbox row per event some active endpoint subscribes to, one delivery per
    // such endpoint. Called from inside the statement that makes the change (a CTE), so the event
    // commits or rolls back with it. Nothing is written while no endpoint is active.
    await q.query(`
      CREATE FUNCTION webhook_raise(p_types text[], p_data jsonb[]) RETURNS integer LANGUAGE plpgsql AS $$
      DECLARE n integer;
      BEGIN
        IF coalesce(array_length(p_types, 1), 0) = 0 OR NOT EXISTS (SELECT 1 FROM webhooks WHERE is_active) THEN
          RETURN 0;
        END IF;
        WITH ev AS (
          INSERT INTO webhook_events (type, data)
          SELECT e.t, e.d FROM unnest(p_types, p_data) WITH ORDINALITY AS e (t, d, n)
           WHERE EXISTS (SELECT 1 FROM webhooks w WHERE w.is_active AND (w.events ? '*' OR w.events ? e.t))
           ORDER BY e.n
          RETURNING id, type),
        dl AS (
          INSERT INTO webhook_deliveries (event_id, webhook_id)
          SELECT ev.id, w.id FROM ev JOIN webhooks w ON w.is_active AND (w.events ? '*' OR w.events ? ev.type)
          RETURNING 1)
        SELECT count(*) INTO n FROM dl;
        RETURN n;
      END $$`);

    await q.query(`
      CREATE FUNCTION providers_raise_health_events() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM webhook_raise(
          array_agg(CASE WHEN n.health_status = 'unhealthy' THEN 'provider.unhealthy' ELSE 'provider.recovered' END ORDER BY n.id),
          array_agg(jsonb_build_object(
            'provider', jsonb_build_object('id', n.id, 'name', n.name, 'provider_type', n.provider_type),
            'health_status', n.health_status, 'previous_health_status', o.health_status,
            'last_error', CASE WHEN n.health_status = 'unhealthy' THEN n.last_error END) ORDER BY n.id))
          FROM new_rows n JOIN old_rows o ON o.id = n.id
         WHERE n.deleted_at IS NULL AND n.health_status IS DISTINCT FROM o.health_status
           AND (n.health_status = 'unhealthy' OR (o.health_status = 'unhealthy' AND n.health_status = 'healthy'));
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER providers_health_events AFTER UPDATE ON providers
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION providers_raise_health_events()`);

    await q.query(`
      CREATE TABLE suppressions (
        id serial PRIMARY KEY,
        email varchar(320) NOT NULL,
        reason varchar(16) NOT NULL,
        note text NOT NULL DEFAULT '',
        message_id bigint,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX suppressions_email ON suppressions (lower(email))`);

    await q.query(`ALTER TABLE send_attempts ADD COLUMN provider_message_id varchar(255)`);
    await q.query(`CREATE INDEX send_attempts_provider_message_id ON send_attempts (provider_message_id) WHERE provider_message_id IS NOT NULL`);
    await q.query(`ALTER TABLE messages ADD COLUMN suppressed_recipients jsonb NOT NULL DEFAULT '[]'`);
    await q.query(`ALTER TABLE providers ADD COLUMN ses_configuration_set varchar(64)`);

    await q.query(`
      CREATE TABLE message_feedback (
        id bigserial PRIMARY KEY,
        message_id bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        provider_id integer,
        notification_id varchar(255) NOT NULL UNIQUE,
        type varchar(16) NOT NULL,
        subtype varchar(64),
        recipients jsonb NOT NULL DEFAULT '[]',
        detail jsonb NOT NULL DEFAULT '{}',
        occurred_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX message_feedback_message ON message_feedback (message_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE message_feedback`);
    await q.query(`ALTER TABLE providers DROP COLUMN ses_configuration_set`);
    await q.query(`ALTER TABLE messages DROP COLUMN suppressed_recipients`);
    await q.query(`DROP INDEX send_attempts_provider_message_id`);
    await q.query(`ALTER TABLE send_attempts DROP COLUMN provider_message_id`);
    await q.query(`DROP TABLE suppressions`);
    await q.query(`DROP TRIGGER providers_health_events ON providers`);
    await q.query(`DROP FUNCTION providers_raise_health_events()`);
    await q.query(`DROP FUNCTION webhook_raise(text[], jsonb[])`);
    await q.query(`DROP SEQUENCE webhook_lease_tokens`);
    await q.query(`DROP TABLE webhook_deliveries`);
    await q.query(`DROP TABLE webhook_events`);
    await q.query(`DROP TABLE webhooks`);
  }
}
