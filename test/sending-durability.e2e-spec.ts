import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/database/data-source-options.js';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres.js';
import { MessagesRepository } from '../src/sending/messages.repository.js';
import { API, startApp, type TestApp } from './support/app.js';
import { baseDatabaseUrl, provisionDatabase, type TestDatabase } from './support/database.js';
import { fastSendingEnv, providerFor, waitForMessage, type MessageBody } from './support/sending.js';
import { startServiceProcess, type ServiceProcess } from './support/service-process.js';
import { TestSmtpServer } from './support/smtp-server.js';

/**
 * What the outbox promises when instances crash, stop or run side by side: every accepted
 * message is delivered, never lost; duplicates only for a message a dead worker had in flight.
 * Real SMTP sinks on loopback, real databases, real processes for the crash.
 */

const SERVER = baseDatabaseUrl() !== undefined;

type Target = { server: TestApp['server'] | string; auth: { Authorization: string } };
/** A child process as a supertest target: providerFor/waitForMessage only use `server` (a URL will do) and `auth`. */
const viaHttp = (c: ServiceProcess) => ({ server: c.url, auth: c.auth }) as unknown as TestApp;

/**
 * startApp writes its settings into process.env, which the next app in this file inherits:
 * every app here starts from the same sending settings, then its own.
 */
const BASELINE: Record<string, string> = {
  LOG_LEVEL: 'warn',
  SEND_WORKERS_ENABLED: 'true',
  SEND_WORKER_CONCURRENCY: '8',
  SMTP_POOL_MAX_CONNECTIONS: '5',
  SEND_LEASE_SECONDS: '300',
  SEND_SHUTDOWN_GRACE_SECONDS: '20',
};

const body = (i: number) => ({ to: `rcpt${i}@example.com`, subject: `Durability ${i}`, text: `Message number ${i}` });

/**
 * Embedded only: PGlite spends ~3 s initialising a new folder, and every test here needs a fresh
 * database (two of them start processes on it). So one folder is migrated once, closed, and copied
 * per test (~0.1 s). A server database is quick to create and migrate: those are made afresh.
 */
async function migratedTemplate(): Promise<TestDatabase> {
  const template = await provisionDatabase();
  // What the app does on an empty DATA_DIR, without booting the app: open, migrate, close.
  const embedded = await startEmbeddedPostgres(template.env.DATA_DIR as string, 1);
  const ds = await new DataSource(dataSourceOptions(embedded.connection, 1)).initialize();
  try {
    await ds.runMigrations({ transaction: 'each' });
  } finally {
    await ds.destroy();
    await embedded.stop();
  }
  return template;
}

function copyOf(template: TestDatabase): TestDatabase {
  const from = template.env.DATA_DIR as string;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ept-data-'));
  fs.cpSync(from, dir, { recursive: true, filter: (src) => !src.startsWith(path.join(from, 'service.lock')) });
  return {
    env: { DATABASE_URL: undefined, DATA_DIR: dir },
    server: false,
    drop: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** POSTs `count` messages, `parallel` at a time, spreading them over `targets` in turn; returns the accepted bodies. */
async function queue(targets: Target[], count: number, parallel = 25): Promise<MessageBody[]> {
  const accepted: MessageBody[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        const i = next++;
        const on = targets[i % targets.length];
        const res = await request(on.server).post(`${API}/send/`).set(on.auth).send(body(i));
        if (res.status !== 202) throw new Error(`message ${i} not accepted: ${res.status} ${JSON.stringify(res.body)}`);
        accepted[i] = res.body as MessageBody;
      }
    }),
  );
  return accepted;
}

/** Counts rows of `messages` per status, through any instance's DataSource. */
async function statusCounts(ds: DataSource): Promise<Record<string, number>> {
  const rows: { status: string; n: number }[] = await ds.query(`SELECT status, count(*)::int AS n FROM messages GROUP BY status`);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

async function until<T>(what: string, probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(v)} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Every message through GET /messages/ (admin sees all), oldest first. */
async function allMessages(on: Target): Promise<MessageBody[]> {
  const out: (MessageBody & { attempt_count: number })[] = [];
  for (let page = 1; ; page++) {
    const res = await request(on.server).get(`${API}/messages/?page_size=200&page=${page}`).set(on.auth).expect(200);
    out.push(...(res.body.results as (MessageBody & { attempt_count: number })[]));
    if (!res.body.next) break;
  }
  return out.sort((a, b) => a.id - b.id);
}

/** How many times the sink holds each Message-ID. */
function tally(sink: TestSmtpServer): Map<string, number> {
  const seen = new Map<string, number>();
  for (const m of sink.received) seen.set(m.parsed.messageId as string, (seen.get(m.parsed.messageId as string) ?? 0) + 1);
  return seen;
}

describe('Sending durability: instances side by side, crashes, shutdowns and expired leases', () => {
  const sinks: TestSmtpServer[] = [];
  const apps: TestApp[] = [];
  const children: ServiceProcess[] = [];
  const dbs: TestDatabase[] = [];
  let template: TestDatabase | null = null;
  const sink = async (opts: Parameters<typeof TestSmtpServer.start>[0] = {}) => {
    const s = await TestSmtpServer.start(opts);
    sinks.push(s);
    return s;
  };
  const database = async () => {
    const db = template ? copyOf(template) : await provisionDatabase();
    dbs.push(db);
    return db;
  };
  const app = async (db: TestDatabase, env: Record<string, string> = {}) => {
    const t = await startApp({ db, env: { ...BASELINE, ...env } });
    apps.push(t);
    return t;
  };
  const close = async (t: TestApp) => {
    apps.splice(apps.indexOf(t), 1);
    await t.close();
  };
  const child = async (db: TestDatabase, env: Record<string, string> = {}) => {
    const c = await startServiceProcess({ ...db.env, ...env });
    children.push(c);
    return c;
  };

  beforeAll(async () => {
    if (!SERVER) template = await migratedTemplate();
  });
  afterEach(async () => {
    // Whatever happened, no child outlives its test, and the databases go after the apps on them.
    await Promise.all(children.splice(0).map((c) => c.stop('SIGKILL')));
    await Promise.all(apps.splice(0).map((t) => t.close()));
    await Promise.all(sinks.splice(0).map((s) => s.close()));
    await Promise.all(dbs.splice(0).map((db) => db.drop()));
  });
  afterAll(async () => {
    await Promise.all(children.splice(0).map((c) => c.stop('SIGKILL')));
    await template?.drop();
  });

  it(
    SERVER
      ? 'should deliver 1000 messages queued through two instances on one database exactly once each'
      : 'should deliver 1000 messages exactly once each (embedded database: one instance, a second cannot share DATA_DIR)',
    async () => {
      const db = await database();
      const env = (name: string) => fastSendingEnv({ SEND_WORKER_CONCURRENCY: '8', MESSAGE_ID_DOMAIN: name });
      // Each instance introduces itself in EHLO by its MESSAGE_ID_DOMAIN: the sink tells who delivered what.
      const instances = SERVER
        ? [await app(db, env('instance-a.test.local')), await app(db, env('instance-b.test.local'))]
        : [await app(db, env('instance-a.test.local'))];
      const out = await sink();
      await providerFor(instances[0], out);

      // Listening once (rather than supertest's listen per request) keeps 1000 POSTs quick.
      const targets: Target[] = [];
      for (const t of instances) {
        await t.app.listen(0, '127.0.0.1');
        targets.push({ server: (await t.app.getUrl()).replace('[::1]', '127.0.0.1'), auth: t.auth });
      }
      const accepted = await queue(targets, 1000);
      const ds = instances[0].app.get(DataSource);
      await until(
        'messages sent',
        () => statusCounts(ds),
        (c) => c.sent === 1000 || (c.failed ?? 0) > 0,
        45_000,
        200,
      );

      expect(await statusCounts(ds)).toEqual({ sent: 1000 });
      const ids = accepted.map((m) => m.message_id);
      expect(new Set(ids).size).toBe(1000);
      expect(out.received).toHaveLength(1000);
      const seen = tally(out);
      expect(seen.size).toBe(1000);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      expect([...seen.keys()].sort()).toEqual([...ids].sort());
      // Accepted by both (Message-ID domain) and delivered by both (EHLO name) when there are two.
      const domains = new Set(ids.map((id) => id.split('@')[1]));
      const delivering = new Set(out.received.map((m) => m.helo));
      const names = SERVER ? ['instance-a.test.local>', 'instance-b.test.local>'] : ['instance-a.test.local>'];
      expect([...domains].sort()).toEqual(names);
      expect([...delivering].sort()).toEqual(names.map((n) => n.slice(0, -1)));
    },
  );

  it('should deliver every message after the worker process is killed with SIGKILL mid-batch, duplicating only what it had in flight', async () => {
    const CONCURRENCY = 8;
    const TOTAL = 200;
    const db = await database();
    const out = await sink({ onDataDelayMs: 60 });
    const env = {
      ...fastSendingEnv({ SEND_WORKER_CONCURRENCY: String(CONCURRENCY), SMTP_POOL_MAX_CONNECTIONS: String(CONCURRENCY) }),
      SEND_LEASE_SECONDS: '5', // the schema's minimum
    };
    const first = await child(db, env);
    await providerFor(viaHttp(first), out);
    const accepted = await queue([viaHttp(first)], TOTAL, 20);

    // Kill it while it is busy: some delivered, some on the wire, most not yet claimed.
    await until(
      'first deliveries',
      async () => out.received.length,
      (n) => n >= 40,
      20_000,
      5,
    );
    await out.waitForInFlight(1);
    const killed = await first.stop('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    const receivedAtKill = out.received.length;
    expect(receivedAtKill).toBeLessThan(TOTAL);

    // Embedded: the killed process's DATA_DIR lock goes stale after ~5 s; the new one waits for it.
    const second = await child(db, env);
    await until(
      'all sent after the restart',
      async () => (await request(second.url).get(`${API}/messages/?status=sent&page_size=1`).set(second.auth)).body.count as number,
      (n) => n === TOTAL,
      40_000,
      200,
    );
    const rows = (await allMessages(viaHttp(second))) as (MessageBody & { attempt_count: number })[];
    expect(rows).toHaveLength(TOTAL);
    expect(rows.every((m) => m.status === 'sent')).toBe(true);

    const seen = tally(out);
    for (const m of accepted) expect(seen.get(m.message_id) ?? 0).toBeGreaterThanOrEqual(1);
    expect(seen.size).toBe(TOTAL); // nothing the service did not accept
    const duplicated = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
    expect(out.received.length - TOTAL).toBe(duplicated.length);
    expect(duplicated.length).toBeLessThanOrEqual(CONCURRENCY);
    // A duplicate can only be a message the killed worker had claimed: the restart claimed it again.
    const reclaimed = new Set(rows.filter((m) => m.attempt_count > 1).map((m) => m.message_id));
    expect(reclaimed.size).toBeLessThanOrEqual(CONCURRENCY);
    for (const id of duplicated) expect(reclaimed.has(id)).toBe(true);
  });

  it('should let in-flight sends finish on shutdown, leave the rest queued, and deliver them from a new instance', async () => {
    const db = await database();
    const out = await sink({ onDataDelayMs: 1000 });
    const env = fastSendingEnv({
      SEND_WORKER_CONCURRENCY: '4',
      SMTP_POOL_MAX_CONNECTIONS: '4',
      SEND_SHUTDOWN_GRACE_SECONDS: '10',
      SEND_LEASE_SECONDS: '60',
    });
    const first = await app(db, env);
    await providerFor(first, out);
    const accepted = await queue([first], 12, 12);
    await out.waitForInFlight(4);

    const t0 = Date.now();
    await close(first);
    const took = Date.now() - t0;
    // It waited for the sink's answers (up to 1 s), not for the 10 s grace.
    expect(took).toBeLessThan(10_000);
    expect(out.received).toHaveLength(4);

    // A look at the database with workers off: the 4 are sent, the 8 others queued and unleased.
    const inspector = await app(db, { ...env, SEND_WORKERS_ENABLED: 'false' });
    const rows = (await allMessages(inspector)) as (MessageBody & { attempt_count: number })[];
    expect(
      rows
        .filter((m) => m.status === 'sent')
        .map((m) => m.message_id)
        .sort(),
    ).toEqual(out.received.map((m) => m.parsed.messageId).sort());
    expect(rows.filter((m) => m.status === 'queued')).toHaveLength(8);
    const [{ leased }] = await inspector.app
      .get(DataSource)
      .query(`SELECT count(*)::int AS leased FROM messages WHERE lease_owner IS NOT NULL OR status = 'sending'`);
    expect(leased).toBe(0);
    await close(inspector);

    out.setDataDelay(0);
    const next = await app(db, env);
    await until(
      'all sent',
      () => statusCounts(next.app.get(DataSource)),
      (c) => c.sent === 12,
      20_000,
    );
    const seen = tally(out);
    expect(out.received).toHaveLength(12);
    expect([...seen.keys()].sort()).toEqual(accepted.map((m) => m.message_id).sort());
  });

  it('should stop waiting when the shutdown grace runs out, and a new instance delivers the unfinished sends once their lease expires', async () => {
    const db = await database();
    const out = await sink({ onDataDelayMs: 4000 });
    const env = fastSendingEnv({
      SEND_WORKER_CONCURRENCY: '4',
      SMTP_POOL_MAX_CONNECTIONS: '4',
      SEND_SHUTDOWN_GRACE_SECONDS: '0.5',
      SEND_LEASE_SECONDS: '5',
    });
    const first = await app(db, env);
    await providerFor(first, out);
    const beforeQueue = Date.now(); // no claim is older than this
    const accepted = await queue([first], 6, 6);
    await out.waitForInFlight(4);

    const t0 = Date.now();
    await close(first);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(450);
    expect(took).toBeLessThan(3000); // did not wait for the sink's 4 s
    expect(out.received).toHaveLength(0);

    out.setDataDelay(0);
    const next = await app(db, env);
    await until(
      'all sent',
      () => statusCounts(next.app.get(DataSource)),
      (c) => c.sent === 6,
      20_000,
    );

    const seen = tally(out);
    expect([...seen.keys()].sort()).toEqual(accepted.map((m) => m.message_id).sort());
    // The sink kept what the closed connections had already handed over: at most one extra copy of each of the 4.
    const duplicated = [...seen.values()].filter((n) => n > 1).length;
    expect(duplicated).toBeLessThanOrEqual(4);
    expect(out.received.length).toBe(6 + duplicated);
    // The 4 unfinished ones were claimed again (attempt 2), and only once their 5 s lease had run out.
    const details = await Promise.all(accepted.map((m) => waitForMessage(next, m.id)));
    const reclaimed = details.filter((m) => (m as MessageBody & { attempt_count: number }).attempt_count === 2);
    expect(reclaimed).toHaveLength(4);
    expect(details.filter((m) => (m as MessageBody & { attempt_count: number }).attempt_count === 1)).toHaveLength(2);
    for (const m of reclaimed) {
      const attempts = (m as MessageBody & { attempts: { started_at: string }[] }).attempts;
      expect(attempts).toHaveLength(1); // the first attempt never got to record anything
      expect(new Date(attempts[0].started_at).getTime()).toBeGreaterThanOrEqual(beforeQueue + 5000);
    }
  });

  it('should reclaim and send a message whose lease expired while sending, and leave a live lease alone', async () => {
    const db = await database();
    const t = await app(db, fastSendingEnv());
    const out = await sink();
    await providerFor(t, out);
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const send = async (i: number) =>
      (
        await request(t.server)
          .post(`${API}/send/`)
          .set(t.auth)
          .send({ ...body(i), send_at: later })
          .expect(202)
      ).body as MessageBody;
    const orphan = await send(1);
    const held = await send(2);
    expect([orphan.status, held.status]).toEqual(['scheduled', 'scheduled']);

    const ds = t.app.get(DataSource);
    const [[{ lease_token: deadToken }]] = await ds.query(
      `UPDATE messages SET status = 'sending', lease_owner = 'dead', lease_token = nextval('message_lease_tokens'),
              lease_expires_at = now() - interval '1 second' WHERE id = $1 RETURNING lease_token`,
      [orphan.id],
    );
    await ds.query(
      `UPDATE messages SET status = 'sending', lease_owner = 'alive', lease_expires_at = now() + interval '1 hour' WHERE id = $1`,
      [held.id],
    );

    const done = (await waitForMessage(t, orphan.id, undefined, 10_000)) as MessageBody & { attempt_count: number };
    expect(done).toMatchObject({ status: 'sent', attempt_count: 1 });
    expect(done.attempts).toEqual([expect.objectContaining({ outcome: 'accepted' })]);
    // The dead owner's late write is fenced off.
    expect(
      await t.app
        .get(MessagesRepository)
        .finishBatch(
          [
            {
              lease: { id: String(orphan.id), token: deadToken },
              finish: { status: 'sent', providerId: done.provider_id as number, rejected: [] },
              reservations: [],
              attempts: [],
              providerId: done.provider_id,
            },
          ],
          new Date(),
        ),
    ).toEqual(new Set());

    // Twenty poll intervals later the live lease is still untouched and nothing else went out.
    await new Promise((r) => setTimeout(r, 1000));
    const [row] = await ds.query(`SELECT status, lease_owner, attempt_count FROM messages WHERE id = $1`, [held.id]);
    expect(row).toEqual({ status: 'sending', lease_owner: 'alive', attempt_count: 0 });
    expect(out.received.map((m) => m.parsed.messageId)).toEqual([orphan.message_id]);
  });
});
