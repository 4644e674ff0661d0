/**
 * End-to-end sending throughput: HTTP POST /send/ accepted → SMTP delivered, for BENCH_TOTAL
 * (10,000) messages, beside the ceiling of nodemailer's pooled transport alone to the same sink.
 *
 *   npm run bench:send                       local PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test)
 *   BENCH_DB=postgres,pglite npm run bench:send      also the embedded database
 *   BENCH_PROFILE=0 npm run bench:send       skip the in-process profile pass
 *
 * Processes: the service runs as a CHILD (`node dist/src/main.js`, as in production, with its
 * own thread); the SMTP sink (bench/smtp-sink.ts, counts only) is another child; this process
 * is the HTTP load generator and, for the ceiling, the nodemailer client. The profile pass at
 * the end runs the service IN this process to count its SQL round trips and sample its CPU.
 */
import inspector from 'node:inspector';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import nodemailer from 'nodemailer';
import pg from 'pg';
import { Fernet } from '../src/credentials/fernet.js';
import { cpuSeconds, machineCpu, postgresCpuSeconds, Sink, startService } from './processes.js';
import { BASE_URL } from './support.js';

const TOTAL = Number(process.env.BENCH_TOTAL ?? 10_000);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 500);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 32);
const DBS = (process.env.BENCH_DB ?? 'postgres').split(',') as ('postgres' | 'pglite')[];
const PROFILE = process.env.BENCH_PROFILE !== '0';
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';
const FERNET_KEYS = Fernet.generateKey();
const API = '/api/email-provider';
const AUTH = { Authorization: `Bearer ${ADMIN_KEY}` };

type Kind = 'postgres' | 'pglite';
interface Settings {
  /** Reach the local PostgreSQL through its unix socket in this folder instead of TCP 127.0.0.1. */
  socket?: string;
  providers: number;
  concurrency: number;
  poolMax: number;
  dbPool: number;
  logLevel?: string;
}

const messageBody = (i: number) => ({
  to: `user${i}@example.com`,
  subject: `Benchmark message ${i}`,
  text: 'Hello from the throughput benchmark. This line stands for a short transactional email body.',
});

// ---------------------------------------------------------------------------------------------
// Databases

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: BASE_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

async function freshDatabase(
  kind: Kind,
  socket?: string,
): Promise<{ env: Record<string, string | undefined>; name: string | null; drop(): Promise<void> }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-send-'));
  if (kind === 'pglite')
    return {
      env: { DATABASE_URL: undefined, DATA_DIR: dataDir },
      name: null,
      drop: async () => fs.rmSync(dataDir, { recursive: true, force: true }),
    };
  const name = `bench_${randomBytes(5).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(BASE_URL);
  url.pathname = `/${name}`;
  if (socket) url.searchParams.set('host', socket); // pg-connection-string: a host that is a folder means a unix socket
  return {
    env: { DATABASE_URL: url.toString(), DATA_DIR: dataDir },
    name,
    drop: async () => {
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Transactions committed or rolled back in one database (a backend's counts land when it exits). */
async function transactions(name: string): Promise<number> {
  const c = new pg.Client({ connectionString: BASE_URL });
  await c.connect();
  try {
    const { rows } = await c.query(`SELECT (xact_commit + xact_rollback)::bigint AS n FROM pg_stat_database WHERE datname = $1`, [name]);
    return Number(rows[0]?.n ?? 0);
  } finally {
    await c.end();
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

async function call(url: string, method: string, route: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${url}${API}${route}`, {
    method,
    headers: { ...AUTH, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function createProviders(url: string, sinkPort: number, n: number): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const res = await call(url, 'POST', '/providers/', {
      name: `bench sink ${i}`,
      provider_type: 'smtp',
      smtp_host: '127.0.0.1',
      smtp_port: sinkPort,
      smtp_username: '',
      smtp_password: '',
      smtp_use_tls: false,
      smtp_use_ssl: false,
      from_email: 'bench@example.com',
      from_name: 'Bench',
      priority: 1,
      daily_limit: null,
      monthly_limit: null,
      rate_limit_per_minute: null,
    });
    if (res.status !== 201) throw new Error(`provider not created: ${res.status} ${JSON.stringify(res.json)}`);
    ids.push(res.json.id);
  }
  return ids;
}

/**
 * POSTs `n` messages with CLIENTS requests in flight. With several providers each message is
 * pinned to one in turn (provider_id): unpinned messages all go to the first provider in the
 * sending order, so only pinning spreads them over several rate-limit rows.
 */
async function load(url: string, n: number, offset: number, providers: number[]): Promise<{ ms: number; p50: number; p99: number }> {
  let next = 0;
  const latencies: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < n) {
        const i = next++;
        const body =
          providers.length > 1 ? { ...messageBody(offset + i), provider_id: providers[i % providers.length] } : messageBody(offset + i);
        const s = performance.now();
        const res = await call(url, 'POST', '/send/', body);
        latencies.push(performance.now() - s);
        if (res.status !== 202) throw new Error(`not accepted: ${res.status} ${JSON.stringify(res.json)}`);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { ms: performance.now() - t0, p50: latencies[Math.floor(n / 2)], p99: latencies[Math.floor(n * 0.99)] };
}

/** Waits until the service has marked `n` messages sent (markSent lands a moment after the sink's "250"). */
async function waitSent(url: string, n: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { json } = await call(url, 'GET', '/messages/?status=sent&page_size=1');
    if (json.count === n) return;
    if (Date.now() > deadline) throw new Error(`only ${json.count} of ${n} messages marked sent`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// ---------------------------------------------------------------------------------------------
// CPU

type Cpu = { service: number; sink: number; bench: number; postgres: number; machineBusy: number; machineTotal: number };
function cpuNow(servicePid: number | undefined, sinkPid: number): Cpu {
  const m = machineCpu();
  const u = process.cpuUsage();
  return {
    service: servicePid ? cpuSeconds(servicePid) : 0,
    sink: cpuSeconds(sinkPid),
    bench: (u.user + u.system) / 1e6,
    postgres: postgresCpuSeconds(),
    machineBusy: m.busy,
    machineTotal: m.total,
  };
}
function cpuSpent(a: Cpu, b: Cpu): Cpu {
  return {
    service: b.service - a.service,
    sink: b.sink - a.sink,
    bench: b.bench - a.bench,
    postgres: b.postgres - a.postgres,
    machineBusy: b.machineBusy - a.machineBusy,
    machineTotal: b.machineTotal - a.machineTotal,
  };
}
/** CPU milliseconds per message for each party, and how busy the machine was (of all cores). */
function cpuLine(c: Cpu, n: number, withService = true): string {
  const per = (s: number) => ((s * 1000) / n).toFixed(2);
  return (
    (withService ? `service ${per(c.service)} ms, ` : '') +
    `postgres ${per(c.postgres)} ms, sink ${per(c.sink)} ms, this process ${per(c.bench)} ms per message; ` +
    `machine ${Math.round((c.machineBusy / c.machineTotal) * 100)} % busy`
  );
}

// ---------------------------------------------------------------------------------------------
// Runs

const results: string[] = [];
/** The ceiling measured with as many SMTP connections as the service opens (providers × pool size). */
const ceilings = new Map<number, number>();
function ceilingFor(s: Settings): number {
  const rate = ceilings.get(s.providers * s.poolMax);
  if (rate === undefined) throw new Error(`no ceiling measured for ${s.providers * s.poolMax} connections`);
  return rate;
}
function report(line: string): void {
  console.log(line);
  results.push(line);
}

/** nodemailer's pooled transport alone, in this process, to the same sink: the ceiling. */
async function ceiling(sink: Sink, maxConnections: number): Promise<number> {
  const transport = nodemailer.createTransport({
    pool: true,
    host: '127.0.0.1',
    port: sink.port,
    maxConnections,
    maxMessages: 100,
    ignoreTLS: true,
    name: 'bench.local',
    logger: false,
  });
  // The same shape the service hands nodemailer: address objects and an explicit envelope.
  const mail = (i: number) => ({
    messageId: `<${i}.${randomBytes(6).toString('hex')}@bench.local>`,
    from: { name: 'Bench', address: 'bench@example.com' },
    to: [{ name: '', address: `user${i}@example.com` }],
    envelope: { from: 'bench@example.com', to: [`user${i}@example.com`] },
    subject: messageBody(i).subject,
    text: messageBody(i).text,
  });
  sink.reset();
  await Promise.all(Array.from({ length: WARMUP }, (_, i) => transport.sendMail(mail(i))));
  await sink.waitFor(WARMUP, 60_000);
  sink.reset();
  const c0 = cpuNow(undefined, sink.child.pid as number);
  const t0 = Date.now();
  await Promise.all(Array.from({ length: TOTAL }, (_, i) => transport.sendMail(mail(i))));
  const st = await sink.waitFor(TOTAL, 300_000);
  const c = cpuSpent(c0, cpuNow(undefined, sink.child.pid as number));
  transport.close();
  const rate = TOTAL / ((st.last - t0) / 1000);
  report(
    `ceiling  nodemailer pool alone, ${String(maxConnections).padStart(2)} connections | ${Math.round(rate)} msg/s ` +
      `(${TOTAL} in ${((st.last - t0) / 1000).toFixed(1)} s) | ${cpuLine(c, TOTAL, false)}`,
  );
  return rate;
}

function serviceEnv(db: Record<string, string | undefined>, s: Settings): Record<string, string | undefined> {
  return {
    ...db,
    NODE_ENV: 'production',
    ADMIN_API_KEY: ADMIN_KEY,
    FERNET_KEYS,
    LOG_LEVEL: s.logLevel ?? 'warn',
    MESSAGE_ID_DOMAIN: 'bench.local',
    SEND_WORKER_CONCURRENCY: String(s.concurrency),
    SMTP_POOL_MAX_CONNECTIONS: String(s.poolMax),
    DATABASE_POOL_SIZE: String(s.dbPool),
    // The SMTP sink listens on loopback, which the outbound host policy denies unless allowed.
    OUTBOUND_ALLOW: '127.0.0.1',
  };
}

function label(kind: Kind, s: Settings): string {
  return (
    `${kind.padEnd(8)}${s.socket ? ' (unix socket)' : ''} ${s.providers} provider(s)${s.providers > 1 ? ' pinned' : ''}, SEND_WORKER_CONCURRENCY ${s.concurrency}, ` +
    `SMTP_POOL_MAX_CONNECTIONS ${s.poolMax}, DATABASE_POOL_SIZE ${kind === 'pglite' ? '1 (embedded)' : s.dbPool}` +
    (s.logLevel ? `, LOG_LEVEL ${s.logLevel}` : '')
  );
}

/** POST → delivered, accepting and sending at the same time. */
async function endToEnd(kind: Kind, sink: Sink, s: Settings): Promise<number> {
  const ceilingRate = ceilingFor(s);
  const db = await freshDatabase(kind, s.socket);
  const svc = await startService(serviceEnv(db.env, s));
  try {
    const providers = await createProviders(svc.url, sink.port, s.providers);
    sink.reset();
    await load(svc.url, WARMUP, 0, providers);
    await sink.waitFor(WARMUP, 120_000);
    await waitSent(svc.url, WARMUP);
    sink.reset();
    const c0 = cpuNow(svc.child.pid, sink.child.pid as number);
    const t0 = Date.now();
    const accepted = await load(svc.url, TOTAL, WARMUP, providers);
    const st = await sink.waitFor(TOTAL, 600_000);
    const c = cpuSpent(c0, cpuNow(svc.child.pid, sink.child.pid as number));
    await waitSent(svc.url, WARMUP + TOTAL);
    const seconds = (st.last - t0) / 1000;
    const rate = TOTAL / seconds;
    report(
      `e2e      ${label(kind, s)} | ${Math.round(rate)} msg/s (${TOTAL} in ${seconds.toFixed(1)} s, ` +
        `${Math.round((rate / ceilingRate) * 100)} % of the ${s.providers * s.poolMax}-connection ceiling) | POSTs accepted at ${Math.round(TOTAL / (accepted.ms / 1000))}/s, ` +
        `p50 ${accepted.p50.toFixed(1)} ms, p99 ${accepted.p99.toFixed(1)} ms | ${cpuLine(c, TOTAL)}`,
    );
    return rate;
  } catch (err) {
    console.error(svc.output());
    throw err;
  } finally {
    await svc.stop();
    if (db.name)
      report(
        `         ${((await transactions(db.name)) / (WARMUP + TOTAL)).toFixed(1)} transactions per message in that database (pg_stat_database, all of the run)`,
      );
    await db.drop();
  }
}

/** Accept everything with the workers off, then measure delivery alone from a fresh instance. */
async function drain(kind: Kind, sink: Sink, s: Settings): Promise<void> {
  const ceilingRate = ceilingFor(s);
  const db = await freshDatabase(kind, s.socket);
  const env = serviceEnv(db.env, s);
  let svc = await startService({ ...env, SEND_WORKERS_ENABLED: 'false' });
  try {
    const providers = await createProviders(svc.url, sink.port, s.providers);
    const c0 = cpuNow(svc.child.pid, sink.child.pid as number);
    const accepted = await load(svc.url, TOTAL, 0, providers);
    const ca = cpuSpent(c0, cpuNow(svc.child.pid, sink.child.pid as number));
    report(
      `accept   ${label(kind, s)} | workers off: ${Math.round(TOTAL / (accepted.ms / 1000))} POST /send/ per s, ` +
        `p50 ${accepted.p50.toFixed(1)} ms, p99 ${accepted.p99.toFixed(1)} ms | ${cpuLine(ca, TOTAL)}`,
    );
    await svc.stop();
    sink.reset();
    svc = await startService(env); // delivers from its first moment; timed from the sink's first to last message
    const c1 = cpuNow(svc.child.pid, sink.child.pid as number);
    const st = await sink.waitFor(TOTAL, 600_000);
    const c = cpuSpent(c1, cpuNow(svc.child.pid, sink.child.pid as number));
    await waitSent(svc.url, TOTAL);
    const rate = (TOTAL - 1) / ((st.last - st.first) / 1000);
    report(
      `deliver  ${label(kind, s)} | queue drained at ${Math.round(rate)} msg/s (${Math.round((rate / ceilingRate) * 100)} % of the ${s.providers * s.poolMax}-connection ceiling) | ` +
        `${cpuLine(c, TOTAL)} (CPU from ready, so slightly under)`,
    );
  } catch (err) {
    console.error(svc.output());
    throw err;
  } finally {
    await svc.stop();
    await db.drop();
  }
}

// ---------------------------------------------------------------------------------------------
// Profile: the service in this process, its SQL counted, its CPU sampled.

type QueryStat = { count: number; ms: number };
const QUERY_LABELS: [RegExp, string][] = [
  [/^INSERT INTO messages/, 'accept: INSERT message'],
  [/status = 'sending'.*lease_expires_at < \$2/s, 'claim: expired leases (UPDATE … SKIP LOCKED)'],
  [/status IN \('queued', 'scheduled'\)/, 'claim: due messages (UPDATE … SKIP LOCKED)'],
  [/rate_limit_decide/, 'reserve (rate_limit_decide, provider row lock)'],
  [/rate_limit_settle/, 'settle reservation (rate_limit_settle)'],
  [/SET lease_expires_at = /, 'renew lease'],
  [/WITH attempt AS/, 'record attempt + daily stats upsert'],
  [/SET status = 'sent'/, 'markSent'],
  [/FROM "providers"|FROM providers/, 'providers: sending order / forSending'],
];

function labelOf(sql: string): string {
  for (const [re, l] of QUERY_LABELS) if (re.test(sql)) return l;
  return sql.replace(/\s+/g, ' ').slice(0, 60);
}

async function profile(sink: Sink, s: Settings, n: number): Promise<void> {
  const db = await freshDatabase('postgres');
  const env = serviceEnv(db.env, s);
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  process.env.PORT = '0';
  const stats = new Map<string, QueryStat>();
  let counting = false;
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    if (!counting) return original.apply(this, args);
    const sql = typeof args[0] === 'string' ? args[0] : ((args[0] as { text?: string })?.text ?? '');
    const key = labelOf(sql);
    const t0 = performance.now();
    const done = () => {
      const st = stats.get(key) ?? { count: 0, ms: 0 };
      st.count += 1;
      st.ms += performance.now() - t0;
      stats.set(key, st);
    };
    const cb = args[args.length - 1];
    if (typeof cb === 'function') {
      args[args.length - 1] = (...r: unknown[]) => {
        done();
        return (cb as (...a: unknown[]) => unknown)(...r);
      };
      return original.apply(this, args);
    }
    const result = original.apply(this, args) as Promise<unknown> | unknown;
    if (result && typeof (result as Promise<unknown>).then === 'function') (result as Promise<unknown>).then(done, done);
    return result;
  };

  const { NestFactory } = await import('@nestjs/core');
  const { AppModule } = await import('../src/app.module.js');
  const { configureApp } = await import('../src/app.setup.js');
  const app = await NestFactory.create(AppModule as never, { logger: false, bufferLogs: false });
  configureApp(app as never);
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  const session = new inspector.Session();
  session.connect();
  const post = <T>(method: string, params?: object) =>
    new Promise<T>((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res as T))));
  try {
    const providers = await createProviders(url, sink.port, s.providers);
    sink.reset();
    await load(url, WARMUP, 0, providers);
    await sink.waitFor(WARMUP, 120_000);
    await waitSent(url, WARMUP);
    sink.reset();
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 500 });
    await post('Profiler.start');
    counting = true;
    const t0 = Date.now();
    await load(url, n, WARMUP, providers);
    const st = await sink.waitFor(n, 300_000);
    await waitSent(url, WARMUP + n);
    counting = false;
    const { profile: cpu } = await post<{ profile: CpuProfile }>('Profiler.stop');
    report(
      `profile  ${label('postgres', s)}; the service IN this process with the load generator: ` +
        `${n} messages at ${Math.round(n / ((st.last - t0) / 1000))} msg/s`,
    );
    report(`         SQL round trips per message (count, mean latency as seen by the service):`);
    let total = 0;
    for (const [k, v] of [...stats].sort((a, b) => b[1].count - a[1].count)) {
      total += v.count;
      report(`           ${(v.count / n).toFixed(2).padStart(5)} × ${(v.ms / v.count).toFixed(2).padStart(6)} ms  ${k}`);
    }
    report(
      `           ${(total / n).toFixed(2).padStart(5)}   round trips per message in all (the count includes GET /messages polls of this script)`,
    );
    report(`         CPU of this process by where the code lives (self time, share of samples):`);
    for (const [k, share] of cpuByPlace(cpu).slice(0, 14)) report(`           ${(share * 100).toFixed(1).padStart(5)} %  ${k}`);
  } finally {
    counting = false;
    session.disconnect();
    proto.query = original;
    await app.close();
    await db.drop();
  }
}

interface CpuProfile {
  nodes: { id: number; callFrame: { url: string; functionName: string }; hitCount?: number }[];
  samples: number[];
  timeDeltas: number[];
}

function cpuByPlace(p: CpuProfile): [string, number][] {
  const place = new Map<number, string>();
  for (const node of p.nodes) {
    const { url, functionName } = node.callFrame;
    let where: string;
    const mod = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    if (mod) where = `node_modules/${mod[1]}`;
    else if (url.includes('/dist/src/')) where = 'service code (dist/src)';
    else if (url.includes('/dist/bench/')) where = 'benchmark script (load generator)';
    else if (url.includes('deps/undici')) where = 'undici (fetch: the load generator)';
    else if (url.startsWith('node:internal/streams') || url.startsWith('node:stream')) where = 'node: streams';
    else if (url.startsWith('node:internal/http') || url.startsWith('node:_http') || url.startsWith('node:http'))
      where = 'node: http (server side)';
    else if (url.startsWith('node:net') || url.startsWith('node:internal/net')) where = 'node: net';
    else if (url.startsWith('node:')) where = 'node: other internals';
    else if (functionName === '(idle)') where = '(idle)';
    else if (functionName === '(garbage collector)') where = '(garbage collector)';
    else if (functionName === '(program)') where = '(program: native, JIT, libuv)';
    else where = functionName ? `(native: ${functionName})` : '(other)';
    place.set(node.id, where);
  }
  const time = new Map<string, number>();
  let sum = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    const where = place.get(id) ?? '(other)';
    time.set(where, (time.get(where) ?? 0) + dt);
    sum += dt;
  });
  return [...time].map(([k, v]) => [k, v / sum] as [string, number]).sort((a, b) => b[1] - a[1]);
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  console.log(
    `${os.cpus().length} × ${os.cpus()[0]?.model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}; ` +
      `load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}; ${TOTAL} messages per run after ${WARMUP} warm-up, ${CLIENTS} POSTs in flight`,
  );
  const sink = await Sink.start();
  const socket = process.env.BENCH_PG_SOCKET ?? '/var/run/postgresql';
  const hasSocket = fs.existsSync(path.join(socket, '.s.PGSQL.5432'));
  try {
    for (const connections of [5, 10, 20]) ceilings.set(connections, await ceiling(sink, connections));
    for (const kind of DBS) {
      if (kind === 'postgres') {
        await endToEnd(kind, sink, { providers: 1, concurrency: 8, poolMax: 5, dbPool: 10 });
        await endToEnd(kind, sink, { providers: 1, concurrency: 32, poolMax: 10, dbPool: 20 });
        await endToEnd(kind, sink, { providers: 4, concurrency: 32, poolMax: 5, dbPool: 20 });
        await endToEnd(kind, sink, { providers: 4, concurrency: 64, poolMax: 5, dbPool: 40 });
        await endToEnd(kind, sink, { providers: 1, concurrency: 8, poolMax: 5, dbPool: 10, logLevel: 'info' });
        if (hasSocket) await endToEnd(kind, sink, { providers: 1, concurrency: 8, poolMax: 5, dbPool: 10, socket });
        await drain(kind, sink, { providers: 1, concurrency: 8, poolMax: 5, dbPool: 10 });
        await drain(kind, sink, { providers: 4, concurrency: 32, poolMax: 5, dbPool: 20 });
      } else {
        await endToEnd(kind, sink, { providers: 1, concurrency: 8, poolMax: 5, dbPool: 10 });
        await endToEnd(kind, sink, { providers: 4, concurrency: 32, poolMax: 5, dbPool: 10 });
      }
    }
    if (PROFILE && DBS.includes('postgres')) await profile(sink, { providers: 1, concurrency: 8, poolMax: 5, dbPool: 10 }, 3000);
  } finally {
    sink.stop();
  }
  console.log('\nSummary\n' + results.join('\n'));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
