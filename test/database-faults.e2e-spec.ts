import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { API, startApp, type TestApp } from './support/app.js';
import type { TestDatabase } from './support/database.js';
import { fastSendingEnv, providerFor, waitForMessage } from './support/sending.js';
import { smtpServers, type TestSmtpServer } from './support/smtp-server.js';
import { proxiedServerDatabase, TcpProxy } from './support/tcp-proxy.js';

const CONNECT_TIMEOUT_MS = 1000;
const QUERY_TIMEOUT_MS = 1500;
const REPEAT_INTERVAL_SECONDS = 1;
/** Generous: a request may wait for a connection, then a query, then a rollback. */
const ANSWER_BOUND_MS = CONNECT_TIMEOUT_MS + 3 * QUERY_TIMEOUT_MS + 2000;
/** The readiness checks give up after 2 s each. */
const READY_BOUND_MS = 5000;

/**
 * The app reaches a PostgreSQL server of its own database through a proxy in this process, which
 * plays a stopped server (connections refused and dropped) or a frozen one (SIGSTOP: sockets stay
 * open, nothing answers). The shared server itself is never touched. This needs a server, so it
 * runs against one in both CI modes.
 */
describe('Database faults: bounded 503 answers, throttled logs, recovery without restart', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let a: TestApp;
  let b: TestApp;
  let sink: TestSmtpServer;
  const servers = smtpServers();

  beforeAll(async () => {
    const proxied = await proxiedServerDatabase();
    ({ db, proxy } = proxied);
    const url = proxied.url;
    const env = fastSendingEnv({
      DATABASE_URL: url,
      DATABASE_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
      DATABASE_STATEMENT_TIMEOUT_MS: '1000',
      DATABASE_QUERY_TIMEOUT_MS: String(QUERY_TIMEOUT_MS),
      LOG_REPEAT_INTERVAL_SECONDS: String(REPEAT_INTERVAL_SECONDS),
    });
    // Two instances on one database, as deployed: both must come back by themselves.
    a = await startApp({ db, env });
    b = await startApp({ db, env });
    sink = await servers.start();
    await providerFor(a, sink);
  });
  afterEach(async () => {
    await proxy.resume();
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await servers.closeAll();
    await proxy?.close();
    await db?.drop();
  });

  const send = (t: TestApp, subject: string) =>
    request(t.server).post(`${API}/send/`).set(t.auth).send({ to: 'alice@example.com', subject, text: 'Body' });
  const list = (t: TestApp) => request(t.server).get(`${API}/providers/`).set(t.auth);
  const timed = async <T>(work: () => PromiseLike<T>): Promise<{ res: T; ms: number }> => {
    const started = Date.now();
    const res = await work();
    return { res, ms: Date.now() - started };
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  /** Requests to both instances while the database is down: each a prompt 503 in the contract's shape. */
  async function expectUnavailable(boundMs: number): Promise<void> {
    const calls = [() => send(a, 'during the outage'), () => list(a), () => list(a), () => list(a), () => list(b)];
    const [ready, ...answers] = await Promise.all([timed(() => request(a.server).get('/health/ready')), ...calls.map(timed)]);
    for (const { res, ms } of answers) {
      expect({ status: res.status, body: res.body as unknown }).toEqual({ status: 503, body: { detail: expect.any(String) } });
      expect(res.headers['retry-after']).toMatch(/^\d+$/);
      expect(ms).toBeLessThan(boundMs);
    }
    expect({ status: ready.res.status, body: ready.res.body as unknown }).toEqual({
      status: 503,
      body: { detail: expect.stringContaining('database') },
    });
    expect(ready.res.headers['retry-after']).toMatch(/^\d+$/);
    expect(ready.ms).toBeLessThan(READY_BOUND_MS);
  }

  /** Where both instances' logs stand, and what they logged since, parsed (in one process Nest's loggers are shared, so one capture may hold both). */
  const logMark = () => [a.logs.lines.length, b.logs.lines.length];
  const logsSince = ([fromA, fromB]: number[]) =>
    [...a.logs.lines.slice(fromA), ...b.logs.lines.slice(fromB)].map((l) => JSON.parse(l) as Record<string, unknown>);
  const counted = (lines: Record<string, unknown>[]) => lines.some((l) => typeof l.count === 'number' && l.count > 1);

  /** What was logged during an outage in which `failed` requests failed and the send workers kept polling. */
  function expectThrottledLogs(mark: number[], failed: number, pollsRepeat: boolean): void {
    const lines = logsSince(mark);
    // No stack trace per request (nor any: a lost connection's stack says nothing).
    expect(lines.filter((l) => JSON.stringify(l).includes('"stack"'))).toEqual([]);
    const unavailable = lines.filter((l) => l.msg === 'database unavailable');
    expect(unavailable.length).toBeGreaterThan(0);
    expect(unavailable.length).toBeLessThan(failed);
    expect(counted(unavailable)).toBe(true);
    // The send workers poll every 50 ms: a handful of lines for both, not one per poll.
    const claims = lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('claiming messages failed'));
    expect(claims.length).toBeGreaterThan(0);
    expect(claims.length).toBeLessThanOrEqual(12);
    // Frozen, each poll waits out a timeout about as long as the interval: nothing to count then.
    if (pollsRepeat) expect(counted(claims)).toBe(true);
  }

  async function expectRecovered(subject: string): Promise<void> {
    for (const t of [a, b]) {
      const deadline = Date.now() + 10_000;
      let status = 0;
      while ((status = (await list(t)).status) !== 200 && Date.now() < deadline) await sleep(100);
      expect(status).toBe(200);
    }
    for (const t of [a, b]) expect((await request(t.server).get('/health/ready')).status).toBe(200);
    const queued = await send(a, subject);
    expect(queued.status).toBe(202);
    expect(await waitForMessage(a, queued.body.id)).toMatchObject({ status: 'sent' });
    const got = sink.received.find((m) => m.parsed.subject === subject);
    expect(got?.parsed.messageId).toBe(queued.body.message_id);
    expect(got?.envelope.to).toEqual(['alice@example.com']);
  }

  /** Requests, a pause past the log interval, more requests (so a repeat is logged with its count); returns how many failed. */
  async function outage(boundMs: number): Promise<number> {
    await expectUnavailable(boundMs);
    await sleep(REPEAT_INTERVAL_SECONDS * 1000 + 200);
    await expectUnavailable(boundMs);
    return 2 * 5;
  }

  it('should answer 503 with Retry-After at once while the server is stopped, and work again once it is back', async () => {
    const mark = logMark();
    await proxy.refuse();
    expectThrottledLogs(mark, await outage(3000), true);
    await proxy.resume();
    await expectRecovered('after the stop');
  });

  it('should answer 503 within the timeouts while the server is frozen, and work again once it thaws', async () => {
    const mark = logMark();
    proxy.freeze();
    expectThrottledLogs(mark, await outage(ANSWER_BOUND_MS), false);
    await proxy.resume();
    await expectRecovered('after the freeze');
  });
});
