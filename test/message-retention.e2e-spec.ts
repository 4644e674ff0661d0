import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { ConfigService } from '@nestjs/config';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { AppConfig } from '../src/config/app-config.js';
import { validateEnv } from '../src/config/env.schema.js';
import { ScheduledRoundsRepository } from '../src/database/scheduled-rounds.repository.js';
import type { Clock } from '../src/rate-limit/clock.js';
import { RetentionRepository } from '../src/retention/retention.repository.js';
import { RetentionService } from '../src/retention/retention.service.js';
import { API, startApp, type TestApp } from './support/app.js';
import { ManualClock } from './support/clock.js';
import { provisionDatabase } from './support/database.js';
import { smtpProviderBody } from './support/factories.js';
import { deactivateAllProviders, fastSendingEnv, providerFor } from './support/sending.js';
import { closedPort, smtpServers } from './support/smtp-server.js';

const DAY = 86_400_000;
const FAR_FUTURE = new Date('2100-01-01T00:00:00Z');
const ATTACHMENT = { filename: 'a.txt', content: Buffer.from('attached').toString('base64'), content_type: 'text/plain' };

type Status = 'queued' | 'scheduled' | 'sending' | 'sent' | 'failed';

/**
 * A message row written straight into the table, as old as the test needs. `at` is when a sent or
 * failed message became final, or when another was last updated. Messages not final are never
 * due and never leased out (next_attempt_at and the lease lie in 2100), so no send worker takes them.
 */
async function insertMessage(
  ds: DataSource,
  status: Status,
  at: Date,
  extra: { idempotencyKey?: string; providerId?: number } = {},
): Promise<string> {
  const [{ id }] = (await ds.query(
    `INSERT INTO messages (status, message_id, to_addresses, subject, text_body, html_body, headers, attachments,
                           next_attempt_at, created_at, updated_at, sent_at, failed_at, lease_owner, lease_expires_at, lease_token,
                           idempotency_key, request_hash, provider_id)
     VALUES ($1, '<' || gen_random_uuid() || '@retention.test>', '["alice@example.com"]', 'Kept subject', 'Text body', '<p>HTML body</p>',
             '{"X-Campaign": "spring"}', $2, $3, $4::timestamptz - interval '1 minute', $4, $5, $6, $7, $8,
             CASE WHEN $8::timestamptz IS NOT NULL THEN nextval('message_lease_tokens') END, $9, $10, $11)
     RETURNING id::text AS id`,
    [
      status,
      JSON.stringify([ATTACHMENT]),
      FAR_FUTURE,
      at,
      status === 'sent' ? at : null,
      status === 'failed' ? at : null,
      status === 'sending' ? 'elsewhere' : null,
      status === 'sending' ? FAR_FUTURE : null,
      extra.idempotencyKey ?? null,
      extra.idempotencyKey ? 'f'.repeat(64) : null,
      extra.providerId ?? null,
    ],
  )) as { id: string }[];
  return id;
}

async function insertAttempt(ds: DataSource, messageId: string, providerId: number, at: Date): Promise<void> {
  await ds.query(
    `INSERT INTO send_attempts (message_id, provider_id, started_at, response_time_ms, outcome) VALUES ($1, $2, $3, 120, 'accepted')`,
    [messageId, providerId, at],
  );
}

type StoredMessage = {
  id: string;
  status: Status;
  subject: string;
  to_addresses: string[];
  text_body: string | null;
  html_body: string | null;
  headers: Record<string, string>;
  attachments: unknown[];
  body_dropped_at: Date | null;
  updated_at: Date;
};

async function stored(ds: DataSource, ids: string[]): Promise<Map<string, StoredMessage>> {
  const rows = (await ds.query(
    `SELECT id::text AS id, status, subject, to_addresses, text_body, html_body, headers, attachments, body_dropped_at, updated_at
       FROM messages WHERE id = ANY($1::bigint[])`,
    [ids],
  )) as StoredMessage[];
  return new Map(rows.map((r) => [r.id, r]));
}

async function attemptCounts(ds: DataSource, ids: string[]): Promise<Record<string, number>> {
  const rows = (await ds.query(
    `SELECT message_id::text AS id, count(*)::int AS n FROM send_attempts WHERE message_id = ANY($1::bigint[]) GROUP BY message_id`,
    [ids],
  )) as { id: string; n: number }[];
  return Object.fromEntries(rows.map((r) => [r.id, r.n]));
}

/** A retention service on `ds` with its own clock and settings (the app's own runs on the system clock). */
function retentionService(ds: DataSource, clock: Clock, env: Record<string, string> = {}): RetentionService {
  const config = new AppConfig(new ConfigService(validateEnv({ ...process.env, ...env })));
  return new RetentionService(new RetentionRepository(ds), new ScheduledRoundsRepository(ds), clock, config);
}

type PlanNode = { 'Node Type': string; 'Relation Name'?: string; 'Index Name'?: string; Plans?: PlanNode[] };

/** How a plan reads `messages`: the index of each scan, or the node type of a scan without one (Seq Scan). */
function scansOfMessages(explained: unknown): string[] {
  const [
    {
      'QUERY PLAN': [{ Plan }],
    },
  ] = explained as { 'QUERY PLAN': { Plan: PlanNode }[] }[];
  const scans: string[] = [];
  const walk = (node: PlanNode, parent?: PlanNode) => {
    if (node['Index Name'] && (node['Relation Name'] ?? parent?.['Relation Name']) !== undefined) scans.push(node['Index Name']);
    else if (node['Relation Name'] === 'messages' && node['Node Type'] !== 'ModifyTable' && node['Node Type'] !== 'Bitmap Heap Scan')
      scans.push(node['Node Type']);
    for (const child of node.Plans ?? []) walk(child, node);
  };
  walk(Plan);
  return scans;
}

/*
 * Each test sets its clock in an era of its own and inserts its messages relative to it; a purge
 * only reaches messages older than its cutoff, and every test asserts on its own rows, so the
 * tests hold in any order. The one that counts whole rounds uses the earliest era (1980), where
 * no other test puts a row.
 */
describe('Message retention: bodies dropped, then rows deleted, after the message became final', () => {
  let t: TestApp;
  let ds: DataSource;
  const servers = smtpServers();

  beforeAll(async () => {
    t = await startApp({ env: fastSendingEnv() });
    ds = t.app.get(DataSource);
  });
  afterEach(async () => {
    await servers.closeAll();
  });
  afterAll(async () => {
    await t.close();
  });

  it('should drop bodies, headers and attachments of sent and failed messages past the body retention only, and say so on GET', async () => {
    const clock = new ManualClock('2001-06-01T12:00:00Z');
    const ago = (days: number) => new Date(clock.now().getTime() - days * DAY);
    const sentOld = await insertMessage(ds, 'sent', ago(8));
    const failedOld = await insertMessage(ds, 'failed', ago(7.01));
    const sentRecent = await insertMessage(ds, 'sent', ago(6.99));
    const waiting = await Promise.all((['queued', 'scheduled', 'sending'] as const).map((s) => insertMessage(ds, s, ago(300))));
    const before = await stored(ds, [sentRecent, ...waiting]);

    await retentionService(ds, clock).purge();

    const after = await stored(ds, [sentOld, failedOld, sentRecent, ...waiting]);
    for (const id of [sentOld, failedOld])
      expect(after.get(id)).toMatchObject({
        subject: 'Kept subject',
        to_addresses: ['alice@example.com'],
        text_body: null,
        html_body: null,
        headers: {},
        attachments: [],
        body_dropped_at: clock.now(),
        updated_at: ago(id === sentOld ? 8 : 7.01),
      });
    // Not yet past the body retention, or not final at all: exactly as they were.
    for (const id of [sentRecent, ...waiting]) expect(after.get(id)).toEqual(before.get(id));
    expect(after.get(waiting[0])).toMatchObject({ text_body: 'Text body', headers: { 'X-Campaign': 'spring' }, attachments: [ATTACHMENT] });

    const shown = await request(t.server).get(`${API}/messages/${sentOld}/`).set(t.auth).expect(200);
    expect(shown.body).toMatchObject({
      id: Number(sentOld),
      status: 'sent',
      subject: 'Kept subject',
      body_dropped_at: '2001-06-01T12:00:00.000Z',
    });
    const kept = await request(t.server).get(`${API}/messages/${sentRecent}/`).set(t.auth).expect(200);
    expect(kept.body.body_dropped_at).toBeNull();
  });

  it('should delete sent and failed messages with their attempts past the row retention, answer 404 for them, and free their idempotency keys', async () => {
    const clock = new ManualClock('2002-06-01T12:00:00Z');
    const ago = (days: number) => new Date(clock.now().getTime() - days * DAY);
    const provider = await providerFor(t, { host: '127.0.0.1', port: 2525 }, { is_active: false });
    const key = `retention-${Date.now()}`;
    const sentOld = await insertMessage(ds, 'sent', ago(91), { idempotencyKey: key, providerId: provider.id });
    const failedOld = await insertMessage(ds, 'failed', ago(90.01), { providerId: provider.id });
    const sentKept = await insertMessage(ds, 'sent', ago(89.99), { providerId: provider.id });
    const queuedOld = await insertMessage(ds, 'queued', ago(400));
    for (const id of [sentOld, sentOld, failedOld, sentKept]) await insertAttempt(ds, id, provider.id, ago(95));
    const scheduled = { to: 'bob@example.com', subject: 'Reused key', text: 'Hi', send_at: FAR_FUTURE.toISOString() };
    // While the message exists its key belongs to it (a different request is refused).
    await request(t.server).post(`${API}/send/`).set(t.auth).set('Idempotency-Key', key).send(scheduled).expect(422);

    await retentionService(ds, clock).purge();

    const after = await stored(ds, [sentOld, failedOld, sentKept, queuedOld]);
    expect([...after.keys()].sort()).toEqual([sentKept, queuedOld].sort());
    expect(await attemptCounts(ds, [sentOld, failedOld, sentKept])).toEqual({ [sentKept]: 1 });
    expect(after.get(sentKept)?.body_dropped_at).toEqual(clock.now());
    for (const id of [sentOld, failedOld])
      await request(t.server).get(`${API}/messages/${id}/`).set(t.auth).expect(404, { detail: 'Not found.' });
    await request(t.server).get(`${API}/messages/${sentKept}/`).set(t.auth).expect(200);

    const reused = await request(t.server).post(`${API}/send/`).set(t.auth).set('Idempotency-Key', key).send(scheduled).expect(202);
    expect(reused.headers['idempotent-replayed']).toBeUndefined();
    expect(reused.body).toMatchObject({ status: 'scheduled', subject: 'Reused key' });
  });

  it('should work through a backlog in batches of MESSAGE_RETENTION_BATCH_SIZE and finish it in one round', async () => {
    const clock = new ManualClock('1980-06-01T12:00:00Z');
    const ago = (days: number) => new Date(clock.now().getTime() - days * DAY);
    const expired = await Promise.all([91, 92, 93, 94, 95].map((d) => insertMessage(ds, 'sent', ago(d))));
    const bodies = await Promise.all([8, 9, 10].map((d) => insertMessage(ds, 'failed', ago(d))));

    const round = await retentionService(ds, clock, { MESSAGE_RETENTION_BATCH_SIZE: '2' }).purge();

    // Deleting 5 takes batches of 2, 2 and 1; dropping 3 bodies takes 2 and 1; no webhook event is old enough: one more.
    // Six statements, six transactions.
    expect(round).toEqual({ messagesDeleted: 5, bodiesDropped: 3, webhookEventsDeleted: 0, batches: 6, finished: true });
    const after = await stored(ds, [...expired, ...bodies]);
    expect([...after.keys()].sort()).toEqual([...bodies].sort());
    for (const id of bodies) expect(after.get(id)?.body_dropped_at).toEqual(clock.now());
    expect(await retentionService(ds, clock, { MESSAGE_RETENTION_BATCH_SIZE: '2' }).purge()).toEqual({
      messagesDeleted: 0,
      bodiesDropped: 0,
      webhookEventsDeleted: 0,
      batches: 3,
      finished: true,
    });
  });

  it('should leave statistics, usage and failover counts exactly as they were when the messages behind them are deleted', async () => {
    await deactivateAllProviders(t);
    const sink = await servers.start();
    const rejecting = await servers.start({ faults: { onData: 'reject-550' } });
    const primary = await providerFor(t, { host: '127.0.0.1', port: await closedPort() }, { priority: 1 });
    const secondary = await providerFor(t, sink, { priority: 2, daily_limit: 100, monthly_limit: 1000 });
    const rejecter = await providerFor(t, rejecting, { priority: 3 });
    const send = (body: Record<string, unknown>) =>
      request(t.server)
        .post(`${API}/send/`)
        .set(t.auth)
        .send({ to: 'alice@example.com', subject: 'Counted', text: 'Hello', wait: true, ...body });
    const ids = [
      (await send({}).expect(200)).body.id as number,
      (await send({}).expect(200)).body.id as number,
      (await send({ provider_id: rejecter.id }).expect(502)).body.id as number,
    ];
    await request(t.server).post(`${API}/providers/${secondary.id}/test/`).set(t.auth).send({ test_email: 'ops@example.com' }).expect(200);
    const mine = [primary.id, secondary.id, rejecter.id];
    const figures = async () => {
      const stats = (await request(t.server).get(`${API}/providers/statistics/`).set(t.auth).expect(200)).body as { provider_id: number }[];
      const details = await Promise.all(
        mine.map(async (id) => (await request(t.server).get(`${API}/providers/${id}/`).set(t.auth).expect(200)).body),
      );
      return { stats: stats.filter((s) => mine.includes(s.provider_id)), details };
    };
    const before = await figures();
    expect(before.stats.find((s) => s.provider_id === secondary.id)).toMatchObject({ emails_sent_today: 3, total_attempts: 3 });
    expect(before.stats.find((s) => s.provider_id === primary.id)).toMatchObject({
      failovers: [expect.objectContaining({ to_provider_id: secondary.id })],
    });

    const round = await retentionService(ds, new ManualClock(new Date(Date.now() + 100 * DAY))).purge();

    expect(round.messagesDeleted).toBeGreaterThanOrEqual(4);
    for (const id of ids) await request(t.server).get(`${API}/messages/${id}/`).set(t.auth).expect(404);
    expect(await attemptCounts(ds, ids.map(String))).toEqual({});
    expect(await figures()).toEqual(before);
  });

  it('should find due messages through messages_due and expired ones through the retention indexes, never by scanning the table', async () => {
    // 20,000 finished messages (a minute apart from 2100 on) and 5 due ones, statistics gathered, all rolled back after.
    const runner = ds.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    try {
      await runner.query(
        `INSERT INTO messages (status, message_id, to_addresses, subject, text_body, next_attempt_at, created_at, updated_at, sent_at)
         SELECT 'sent', '<bulk-' || i || '@retention.test>', '["a@example.com"]', 's', 'body', t, t, t, t
           FROM generate_series(1, 20000) AS i, LATERAL (SELECT timestamptz '2100-01-01' + make_interval(mins => i) AS t) AS at`,
      );
      await runner.query(
        `INSERT INTO messages (status, message_id, to_addresses, subject, next_attempt_at)
         SELECT 'queued', '<due-' || i || '@retention.test>', '["a@example.com"]', 's', now() FROM generate_series(1, 5) AS i`,
      );
      await runner.query('ANALYZE messages');
      const plans: unknown[] = [];
      const explaining = {
        query: async (sql: string, params: unknown[]) => {
          plans.push(await runner.query(`EXPLAIN (FORMAT JSON) ${sql}`, params));
          return [{ count: 0 }];
        },
      };
      const repo = new RetentionRepository(explaining as unknown as DataSource);
      const cutoff = new Date('2100-01-03T00:00:00Z'); // about 2,900 of the 20,000
      await repo.deleteFinishedBefore(cutoff, 1000);
      await repo.dropBodiesFinishedBefore(cutoff, 1000, new Date());
      // The due half of the claim in src/sending/messages.repository.ts.
      plans.push(
        await runner.query(
          `EXPLAIN (FORMAT JSON) SELECT id FROM messages WHERE status IN ('queued', 'scheduled') AND next_attempt_at <= now()
            ORDER BY next_attempt_at LIMIT 50 FOR UPDATE SKIP LOCKED`,
        ),
      );
      const [deleting, dropping, claiming] = plans.map(scansOfMessages);
      // Ids from the partial index, then the rows by primary key (a bitmap over it would do too); never a sequential scan.
      expect(deleting).toEqual(['messages_finished', 'messages_pkey']);
      expect(dropping).toEqual(['messages_body_kept', 'messages_pkey']);
      expect(claiming).toEqual(['messages_due']);
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
  });

  it('should let one instance run each round however many try it at once, and the next round only an interval later', async () => {
    const other = t.db.server ? await startApp({ db: t.db, env: fastSendingEnv() }) : null;
    try {
      const clock = new ManualClock('1975-01-01T00:00:00Z');
      const env = { MESSAGE_RETENTION_INTERVAL_SECONDS: '300' };
      // Two instances on one PostgreSQL server; on embedded PGlite (one process) two services on its one pool.
      const instances = [retentionService(ds, clock, env), retentionService(other ? other.app.get(DataSource) : ds, clock, env)];
      const tryAll = async () =>
        (await Promise.all(Array.from({ length: 10 }, (_, i) => instances[i % 2].runRound()))).filter((r) => r !== null).length;

      expect(await tryAll()).toBe(1);
      clock.advance(200_000);
      expect(await tryAll()).toBe(0);
      clock.advance(100_000);
      expect(await tryAll()).toBe(1);
    } finally {
      await other?.close();
    }
  });
});

describe('Message retention on its schedule', () => {
  it('should run rounds every MESSAGE_RETENTION_INTERVAL_SECONDS when enabled, and stop with the app', async () => {
    const db = await provisionDatabase();
    const t = await startApp({ db, env: { MESSAGE_RETENTION_ENABLED: 'true', MESSAGE_RETENTION_INTERVAL_SECONDS: '1' } });
    try {
      const ds = t.app.get(DataSource);
      const ago = (days: number) => new Date(Date.now() - days * DAY);
      /** Polls the table until `done` holds for the rows of `ids` (a round runs about every second). */
      const until = async (ids: string[], done: (rows: Map<string, StoredMessage>) => boolean) => {
        const deadline = Date.now() + 20_000;
        while (!done(await stored(ds, ids))) {
          if (Date.now() > deadline)
            throw new Error(`no retention round did it within 20 s: ${JSON.stringify([...(await stored(ds, ids)).values()])}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      const expired = await insertMessage(ds, 'sent', ago(91));
      const kept = await insertMessage(ds, 'sent', ago(8));
      // One round deletes first, then drops bodies: once the body is gone, so is the expired row.
      await until([kept], (rows) => rows.get(kept)?.body_dropped_at != null);
      expect([...(await stored(ds, [expired, kept])).keys()]).toEqual([kept]);
      // And the next rounds keep coming.
      const later = await insertMessage(ds, 'failed', ago(100));
      await until([later], (rows) => rows.size === 0);
    } finally {
      await t.close();
      await db.drop();
    }
  });
});
