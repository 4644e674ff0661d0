/**
 * Sending throughput, measured from outside: every figure of issue 12's target table, each
 * beside nodemailer's own ceiling measured in the same run, printed as one Markdown table per
 * database that can be pasted into BENCHMARKS.md.
 *
 *   npm run bench:send                                  local PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test)
 *   npm run bench:send -- --db pglite                   the service on embedded PGlite (no DATABASE_URL, a fresh DATA_DIR)
 *   npm run bench:send -- --db postgres,pglite          both, one table each
 *   npm run bench:send -- --instances 2                 also two service processes on one PostgreSQL database (beside one)
 *   npm run bench:send -- --preload 1000000             also with 1,000,000 old messages in the table (beside none)
 *   npm run bench:send -- --repeat 3                    every combination three times, interleaved; the table shows medians
 *   npm run bench:send -- --quick                       fewer messages: a smoke run of a few minutes
 *   npm run bench:send -- --env SEND_WORKER_CONCURRENCY=16   a service setting for every run (repeatable)
 *   npm run bench:send -- --no-profile                  skip the in-process profile pass (or BENCH_PROFILE=0)
 * The options combine: `--instances 2 --preload 1000000` measures all four combinations.
 * Sizes: BENCH_TOTAL, BENCH_WARMUP, BENCH_CLIENTS, BENCH_BATCH_TOTAL, BENCH_BATCH_CLIENTS,
 * BENCH_PRELOAD_BODY_DAYS (old messages younger than this keep their body; default 7).
 *
 * For each database and each combination of the options, on a fresh database:
 * - end to end: CLIENTS HTTP clients POST small text messages to /send/ for one provider with
 *   SMTP_POOL_MAX_CONNECTIONS 5 (per instance), timed from the first POST to the sink's last
 *   message; the service's RSS is sampled meanwhile, its transactions counted
 *   (pg_stat_database.xact_commit of its database), and every message checked sent exactly once;
 * - the same database again with the workers off (SEND_WORKERS_ENABLED=false): single-message
 *   POSTs accepted per second, then messages accepted per second through POST /send/batch/
 *   (BATCH_CLIENTS clients × 500-message batches), "n/a" when the service has no such route.
 * The ceiling is nodemailer's pooled transport alone, in this process, to the same sink, with
 * the same number of connections (5 × instances), measured before and after each database's runs.
 *
 * Processes: the service runs as CHILD processes (`node dist/src/main.js`, as in production);
 * the SMTP sink (bench/smtp-sink.ts, counts only) is another child; this process is the HTTP
 * load generator and the ceiling's nodemailer client. Progress goes to stderr, tables to stdout.
 */
import inspector from 'node:inspector';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import nodemailer from 'nodemailer';
import pg from 'pg';
import { Fernet } from '../src/credentials/fernet.js';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres.js';
import { preloadOldMessages, PRELOAD_DAYS, type PreloadResult } from './preload.js';
import {
  cpuSeconds,
  machineCpu,
  postgresCpuSeconds,
  sampleRss,
  Sink,
  startService,
  type RssStats,
  type ServiceChild,
} from './processes.js';
import {
  ADMIN_KEY,
  createProvider,
  messageBody,
  postBatch,
  postBatches,
  postMessages,
  sentCount,
  TEXT,
  waitSent,
  type Timing,
} from './send-load.js';
import { admin, BASE_URL } from './support.js';

type Kind = 'postgres' | 'pglite';

const HELP = `usage: npm run bench:send -- [--db postgres|pglite|postgres,pglite] [--instances N] [--preload N] [--repeat N]
                                [--quick] [--env KEY=VALUE]... [--no-profile]`;
const { values: args } = parseArgs({
  options: {
    db: { type: 'string', default: process.env.BENCH_DB ?? 'postgres' },
    instances: { type: 'string', default: '1' },
    preload: { type: 'string', default: '0' },
    repeat: { type: 'string', default: '1' },
    quick: { type: 'boolean', default: false },
    env: { type: 'string', multiple: true, default: [] },
    profile: { type: 'boolean' },
    'no-profile': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(HELP);
  process.exit(0);
}
const DBS = args.db.split(',').map((d) => d.trim()) as Kind[];
const INSTANCES = Number(args.instances);
const PRELOAD = Number(args.preload);
const REPEAT = Number(args.repeat);
if (DBS.some((d) => d !== 'postgres' && d !== 'pglite') || !(INSTANCES >= 1) || !(PRELOAD >= 0) || !(REPEAT >= 1)) {
  console.error(HELP);
  process.exit(2);
}
const EXTRA_ENV = Object.fromEntries(
  args.env.map((kv) => {
    const at = kv.indexOf('=');
    if (at < 1) {
      console.error(`--env wants KEY=VALUE, not ${kv}`);
      process.exit(2);
    }
    return [kv.slice(0, at), kv.slice(at + 1)];
  }),
);
const QUICK = args.quick;
const size = (name: string, full: number, quick: number) => Number(process.env[name] ?? (QUICK ? quick : full));
const TOTAL = size('BENCH_TOTAL', 10_000, 1_000);
const WARMUP = size('BENCH_WARMUP', 500, 100);
const CLIENTS = size('BENCH_CLIENTS', 32, 32);
const BATCH_TOTAL = size('BENCH_BATCH_TOTAL', 80_000, 4_000);
const BATCH_CLIENTS = size('BENCH_BATCH_CLIENTS', 8, 8);
const BATCH_SIZE = 500;
const PRELOAD_BODY_DAYS = size('BENCH_PRELOAD_BODY_DAYS', 7, 7);
/** SMTP connections per instance (SMTP_POOL_MAX_CONNECTIONS), one provider. */
const POOL = 5;
const PROFILE =
  !args['no-profile'] && process.env.BENCH_PROFILE !== '0' && (args.profile === true || process.env.BENCH_PROFILE === '1' || !QUICK);
const PROFILE_MESSAGES = QUICK ? 1000 : 3000;
/**
 * PostgreSQL 15 flushes a backend's statistics at most once a second while it works, and within
 * 10 s once it is idle: pg_stat_database is read this long after a phase (or after the service's
 * backends exited, which flushes them at once).
 */
const STATS_SETTLE_MS = 11_000;
const FERNET_KEYS = Fernet.generateKey();

const log = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const loadAverage = () => os.loadavg().map((l) => l.toFixed(2));
const load1 = () => os.loadavg()[0];

// ---------------------------------------------------------------------------------------------
// Databases

interface Database {
  kind: Kind;
  env: Record<string, string | undefined>;
  /** The database's name on the local server; null on PGlite (inside the service). */
  name: string | null;
  url: string | null;
  dataDir: string;
  drop(): Promise<void>;
}

async function freshDatabase(kind: Kind): Promise<Database> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-send-'));
  if (kind === 'pglite')
    return {
      kind,
      env: { DATABASE_URL: undefined, DATA_DIR: dataDir },
      name: null,
      url: null,
      dataDir,
      drop: async () => fs.rmSync(dataDir, { recursive: true, force: true }),
    };
  const name = `bench_${randomBytes(5).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(BASE_URL);
  url.pathname = `/${name}`;
  return {
    kind,
    env: { DATABASE_URL: url.toString(), DATA_DIR: dataDir },
    name,
    url: url.toString(),
    dataDir,
    drop: async () => {
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Transactions committed in one database so far (what its backends have flushed). */
async function commits(db: Database): Promise<number | null> {
  if (!db.name) return null;
  const [row] = await admin<{ n: string }>(`SELECT xact_commit::bigint AS n FROM pg_stat_database WHERE datname = $1`, [db.name]);
  return Number(row?.n ?? 0);
}

/** Waits for the database's statistics to land (nothing to wait for on PGlite, which is not counted). */
async function settledCommits(db: Database): Promise<number | null> {
  if (!db.name) return null;
  await sleep(STATS_SETTLE_MS);
  return commits(db);
}

/** Runs `work` with a client on the database; on PGlite the service must be stopped (one process only). */
async function withClient<T>(db: Database, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const embedded = db.kind === 'pglite' ? await startEmbeddedPostgres(db.dataDir, 2) : null;
  const client = new pg.Client(embedded ? embedded.connection : { connectionString: db.url as string });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
    await embedded?.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// The service

function serviceEnv(db: Database, extra: Record<string, string> = {}): Record<string, string | undefined> {
  return {
    ...db.env,
    NODE_ENV: 'production',
    ADMIN_API_KEY: ADMIN_KEY,
    FERNET_KEYS,
    LOG_LEVEL: 'warn',
    MESSAGE_ID_DOMAIN: 'bench.local',
    SMTP_POOL_MAX_CONNECTIONS: String(POOL),
    // The SMTP sink listens on loopback, which the outbound host policy denies unless allowed.
    OUTBOUND_ALLOW: '127.0.0.1',
    ...EXTRA_ENV,
    ...extra,
  };
}

class Services {
  private constructor(readonly all: ServiceChild[]) {}

  /** `n` instances on the same database, one after the other (the first one migrates). */
  static async start(n: number, env: Record<string, string | undefined>): Promise<Services> {
    const all: ServiceChild[] = [];
    try {
      for (let i = 0; i < n; i++) all.push(await startService(env));
    } catch (err) {
      await Promise.all(all.map((s) => s.stop()));
      throw err;
    }
    return new Services(all);
  }

  get urls(): string[] {
    return this.all.map((s) => s.url);
  }
  get pids(): number[] {
    return this.all.map((s) => s.child.pid as number);
  }
  output(): string {
    return this.all.map((s, i) => `--- instance ${i + 1} ---\n${s.output()}`).join('\n');
  }
  async stop(): Promise<void> {
    await Promise.all(this.all.map((s) => s.stop()));
  }
}

// ---------------------------------------------------------------------------------------------
// CPU

type Cpu = { service: number; sink: number; bench: number; postgres: number; machineBusy: number; machineTotal: number };
function cpuNow(servicePids: number[], sinkPid: number): Cpu {
  const m = machineCpu();
  const u = process.cpuUsage();
  return {
    service: servicePids.reduce((sum, pid) => sum + cpuSeconds(pid), 0),
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

/** CPU and RSS of the service (and the machine's CPU) over one timed phase. */
function watch(services: Services, sink: Sink): { stop(): { cpu: Cpu; rss: RssStats } } {
  const c0 = cpuNow(services.pids, sink.child.pid as number);
  const rss = sampleRss(services.pids);
  return { stop: () => ({ cpu: cpuSpent(c0, cpuNow(services.pids, sink.child.pid as number)), rss: rss.stop() }) };
}

// ---------------------------------------------------------------------------------------------
// The ceiling: nodemailer's pooled transport alone, in this process, to the same sink.

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
    text: TEXT,
  });
  try {
    sink.reset();
    await Promise.all(Array.from({ length: WARMUP }, (_, i) => transport.sendMail(mail(i))));
    await sink.waitFor(WARMUP, 60_000);
    sink.reset();
    const c0 = process.cpuUsage();
    const k0 = cpuSeconds(sink.child.pid as number);
    const t0 = Date.now();
    await Promise.all(Array.from({ length: TOTAL }, (_, i) => transport.sendMail(mail(i))));
    const st = await sink.waitFor(TOTAL, 300_000);
    const c1 = process.cpuUsage(c0);
    const perMessage = (seconds: number) => `${((seconds * 1000) / TOTAL).toFixed(2)} ms`;
    const rate = TOTAL / ((st.last - t0) / 1000);
    log(
      `ceiling   nodemailer pool alone, ${maxConnections} connections: ${Math.round(rate)} msg/s (load average ${loadAverage().join(' ')}); ` +
        `CPU per message: nodemailer ${perMessage((c1.user + c1.system) / 1e6)}, sink ${perMessage(cpuSeconds(sink.child.pid as number) - k0)}`,
    );
    return rate;
  } finally {
    transport.close();
  }
}

// ---------------------------------------------------------------------------------------------
// One combination of the options on one database

interface Config {
  instances: number;
  preload: number;
}

interface Phase extends Timing {
  /** Messages per second. */
  rate: number;
  /** Transactions committed per message; null on PGlite. */
  xact: number | null;
  rss: RssStats;
  cpu: Cpu;
  /** The machine's load average (1 min) just before the phase. */
  loadBefore: number;
}

interface Figures {
  config: Config;
  connections: number;
  preloaded: PreloadResult | null;
  e2e: Phase & { postRate: number; seconds: number };
  accept: Phase;
  batch: Phase | null;
}

function configName(c: Config): string {
  const inst = `${c.instances} instance${c.instances > 1 ? 's' : ''}`;
  return c.preload ? `${inst}, ${c.preload.toLocaleString('en')} old messages` : inst;
}

async function measureConfig(kind: Kind, sink: Sink, config: Config): Promise<Figures> {
  log(`\n${kind}, ${configName(config)}: load average ${loadAverage().join(' ')}`);
  const db = await freshDatabase(kind);
  let services: Services | null = null;
  try {
    services = await Services.start(config.instances, serviceEnv(db));
    const providerId = await createProvider(services.urls[0], sink.port);
    let preloaded: PreloadResult | null = null;
    if (config.preload) {
      await services.stop();
      services = null;
      log(`preload   ${config.preload.toLocaleString('en')} old messages…`);
      preloaded = await withClient(db, (c) => preloadOldMessages(c, providerId, config.preload, PRELOAD_BODY_DAYS, TEXT));
      log(
        `preload   ${preloaded.messages.toLocaleString('en')} messages (${preloaded.sent.toLocaleString('en')} sent), ` +
          `${preloaded.attempts.toLocaleString('en')} attempts, ${preloaded.tableSize}, in ${preloaded.seconds.toFixed(0)} s`,
      );
      services = await Services.start(config.instances, serviceEnv(db));
    }
    const sentBefore = await sentCount(services.urls[0]);

    // End to end: accepting and delivering at the same time.
    sink.reset();
    await postMessages(services.urls, CLIENTS, WARMUP, 0);
    await sink.waitFor(WARMUP, 120_000);
    await waitSent(services.urls[0], sentBefore + WARMUP);
    const x0 = await settledCommits(db);
    sink.reset();
    const loadBefore = load1();
    const w = watch(services, sink);
    const t0 = Date.now();
    const posted = await postMessages(services.urls, CLIENTS, TOTAL, WARMUP);
    const st = await sink.waitFor(TOTAL, 600_000);
    const { cpu, rss } = w.stop();
    await waitSent(services.urls[0], sentBefore + WARMUP + TOTAL);
    const received = (await sink.stats()).count;
    if (received !== TOTAL) throw new Error(`the sink received ${received} messages for ${TOTAL} accepted: some went out twice`);
    await services.stop(); // its backends exit and flush their statistics
    services = null;
    const x1 = db.name ? (await sleep(2000), await commits(db)) : null;
    const seconds = (st.last - t0) / 1000;
    const e2e = {
      ...posted,
      rate: TOTAL / seconds,
      seconds,
      postRate: TOTAL / (posted.ms / 1000),
      xact: x0 !== null && x1 !== null ? (x1 - x0) / TOTAL : null,
      cpu,
      rss,
      loadBefore,
    };
    log(
      `e2e       ${Math.round(e2e.rate)} msg/s (${TOTAL} in ${seconds.toFixed(1)} s), POSTs at ${Math.round(e2e.postRate)}/s, ` +
        `${e2e.xact?.toFixed(2) ?? 'n/a'} transactions per message, RSS peak ${mb(rss.peak)}`,
    );

    // Accepting only: single POSTs, then batches, the workers off.
    services = await Services.start(config.instances, serviceEnv(db, { SEND_WORKERS_ENABLED: 'false' }));
    let offset = WARMUP + TOTAL;
    await postMessages(services.urls, CLIENTS, WARMUP, offset);
    offset += WARMUP;
    // A one-message batch first: without the route, a full batch would meet the body limit (413) before the 404.
    const hasBatch = await postBatch(services.urls[0], offset, 1);
    offset += 1;
    if (hasBatch) {
      await postBatches(services.urls, BATCH_CLIENTS, BATCH_SIZE * BATCH_CLIENTS, offset, BATCH_SIZE);
      offset += BATCH_SIZE * BATCH_CLIENTS;
    }
    const a0 = await settledCommits(db);
    const acceptLoad = load1();
    const wa = watch(services, sink);
    const single = await postMessages(services.urls, CLIENTS, TOTAL, offset);
    offset += TOTAL;
    const accepted = wa.stop();
    const a1 = await settledCommits(db);
    const accept: Phase = {
      ...single,
      rate: TOTAL / (single.ms / 1000),
      xact: a0 !== null && a1 !== null ? (a1 - a0) / TOTAL : null,
      ...accepted,
      loadBefore: acceptLoad,
    };
    log(
      `accept    ${Math.round(accept.rate)} POSTs/s, p50 ${accept.p50.toFixed(1)} ms, ${accept.xact?.toFixed(2) ?? 'n/a'} transactions per message`,
    );

    let batch: Phase | null = null;
    if (hasBatch) {
      const batchLoad = load1();
      const wb = watch(services, sink);
      const batches = await postBatches(services.urls, BATCH_CLIENTS, BATCH_TOTAL, offset, BATCH_SIZE);
      const batched = wb.stop();
      await services.stop();
      services = null;
      const b1 = db.name ? (await sleep(2000), await commits(db)) : null;
      batch = {
        ...batches,
        rate: BATCH_TOTAL / (batches.ms / 1000),
        xact: a1 !== null && b1 !== null ? (b1 - a1) / BATCH_TOTAL : null,
        ...batched,
        loadBefore: batchLoad,
      };
      log(`batch     ${Math.round(batch.rate)} messages/s, ${batch.xact?.toFixed(3) ?? 'n/a'} transactions per message`);
    } else log(`batch     n/a: POST /send/batch/ answered 404`);
    return { config, connections: POOL * config.instances, preloaded, e2e, accept, batch };
  } catch (err) {
    if (services) log(services.output());
    throw err;
  } finally {
    await services?.stop();
    await db.drop();
  }
}

/** Figures of the same shape, each number replaced by its median over the repetitions (anything else taken from the first). */
function median<T>(each: T[]): T {
  const [first] = each;
  if (typeof first === 'number') {
    const sorted = (each as number[]).slice().sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return (sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2) as T;
  }
  if (first === null || typeof first !== 'object' || Array.isArray(first)) return first;
  if (each.some((e) => e === null)) return null as T;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(first)) out[key] = median(each.map((e) => (e as Record<string, unknown>)[key]));
  return out as T;
}

// ---------------------------------------------------------------------------------------------
// The table

const mb = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MB`;
const int = (n: number) => Math.round(n).toLocaleString('en');
const ms = (n: number) => (n < 10 ? n.toFixed(1) : Math.round(n).toString());

interface Row {
  figure: string;
  target: string;
  cell(f: Figures): string;
  /** The number compared between columns, and which way is better. */
  value?(f: Figures): number | null;
  better?: 'higher' | 'lower';
}

function rows(kind: Kind, ceilingOf: (connections: number) => number): Row[] {
  const ratio = (f: Figures) => f.e2e.rate / ceilingOf(f.connections);
  return [
    {
      figure: 'End to end, POST accepted → delivered (msg/s)',
      target: '',
      cell: (f) => `${int(f.e2e.rate)} (${TOTAL.toLocaleString('en')} in ${f.e2e.seconds.toFixed(1)} s)`,
      value: (f) => f.e2e.rate,
      better: 'higher',
    },
    {
      figure: "nodemailer's pooled transport alone, same connections (msg/s)",
      target: '',
      cell: (f) => `${int(ceilingOf(f.connections))} (${f.connections} connections)`,
    },
    {
      figure: kind === 'pglite' ? 'Embedded PGlite, end to end / ceiling' : 'End to end / ceiling',
      target: kind === 'pglite' ? '≥ 0.35' : '≥ 0.7',
      cell: (f) => `**${ratio(f).toFixed(2)}**`,
      value: ratio,
      better: 'higher',
    },
    {
      figure: 'POSTs accepted per second during end to end (p50 / p99)',
      target: '',
      cell: (f) => `${int(f.e2e.postRate)} (${ms(f.e2e.p50)} / ${ms(f.e2e.p99)} ms)`,
      value: (f) => f.e2e.postRate,
      better: 'higher',
    },
    {
      figure: 'Single-message POSTs accepted per second, workers off (p50 / p99)',
      target: '≥ 2,500',
      cell: (f) => `**${int(f.accept.rate)}** (${ms(f.accept.p50)} / ${ms(f.accept.p99)} ms)`,
      value: (f) => f.accept.rate,
      better: 'higher',
    },
    {
      figure: `Messages accepted per second through POST /send/batch/, ${BATCH_CLIENTS} clients × ${BATCH_SIZE}, workers off (p50 / p99 per batch)`,
      target: '≥ 10,000',
      cell: (f) => (f.batch ? `**${int(f.batch.rate)}** (${ms(f.batch.p50)} / ${ms(f.batch.p99)} ms)` : 'n/a (no batch endpoint)'),
      value: (f) => f.batch?.rate ?? null,
      better: 'higher',
    },
    {
      figure: 'Database transactions per delivered message, end to end (`pg_stat_database.xact_commit`)',
      target: '≤ 1.5',
      cell: (f) => (f.e2e.xact === null ? 'n/a (embedded)' : `**${f.e2e.xact.toFixed(2)}**`),
      value: (f) => f.e2e.xact,
      better: 'lower',
    },
    {
      figure: 'Database transactions per accepted message: single POSTs / batches',
      target: '',
      cell: (f) =>
        f.accept.xact === null
          ? 'n/a (embedded)'
          : `${f.accept.xact.toFixed(2)} / ${f.batch?.xact != null ? f.batch.xact.toFixed(3) : 'n/a'}`,
    },
    {
      figure: 'Service RSS during end to end, peak / mean',
      target: '< 300 MB',
      cell: (f) =>
        `**${mb(f.e2e.rss.peak)}** / ${mb(f.e2e.rss.mean)}` +
        (f.config.instances > 1 ? ` (all instances; one at most ${mb(f.e2e.rss.peakOne)})` : ''),
      value: (f) => f.e2e.rss.peak,
      better: 'lower',
    },
    {
      figure: 'Service RSS while accepting, workers off: single POSTs / batches, peak',
      target: '',
      cell: (f) => `${mb(f.accept.rss.peak)} / ${f.batch ? mb(f.batch.rss.peak) : 'n/a'}`,
    },
    {
      figure: 'CPU per delivered message, end to end: service / PostgreSQL / sink / load generator; machine busy',
      target: '',
      cell: (f) => {
        const per = (s: number) => ((s * 1000) / TOTAL).toFixed(2);
        const c = f.e2e.cpu;
        const pgCpu = kind === 'pglite' ? '(inside the service)' : per(c.postgres);
        return `${per(c.service)} / ${pgCpu} / ${per(c.sink)} / ${per(c.bench)} ms; ${Math.round((c.machineBusy / c.machineTotal) * 100)} %`;
      },
    },
    {
      figure: 'CPU per accepted message, workers off: service / PostgreSQL, single POSTs / batches',
      target: '',
      cell: (f) => {
        const per = (s: number, n: number) => ((s * 1000) / n).toFixed(2);
        const one = (p: Phase | null, n: number) =>
          p ? `${per(p.cpu.service, n)} / ${kind === 'pglite' ? '–' : per(p.cpu.postgres, n)} ms` : 'n/a';
        return `${one(f.accept, TOTAL)}; ${one(f.batch, BATCH_TOTAL)}`;
      },
    },
    {
      figure: 'Load average (1 min) before: end to end / single POSTs / batches',
      target: '',
      cell: (f) => `${f.e2e.loadBefore.toFixed(2)} / ${f.accept.loadBefore.toFixed(2)} / ${f.batch?.loadBefore.toFixed(2) ?? '–'}`,
    },
  ];
}

function compare(row: Row, base: Figures | undefined, other: Figures | undefined, how: 'ratio' | 'change'): string {
  const a = base && row.value?.(base);
  const b = other && row.value?.(other);
  if (a == null || b == null || a === 0) return '';
  if (how === 'ratio') return `${(b / a).toFixed(2)}×`;
  const change = b / a - 1;
  const worse = row.better === 'higher' ? -change : change;
  return `${change >= 0 ? '+' : '−'}${Math.abs(change * 100).toFixed(0)} %${worse > 0.1 ? ' (beyond 10 %)' : ''}`;
}

function table(
  kind: Kind,
  version: string,
  figures: Figures[],
  ceilings: Map<number, number[]>,
  startLoad: string[],
  startedAt: Date,
): string {
  const ceilingOf = (connections: number) => {
    const m = ceilings.get(connections) ?? [];
    return m.reduce((a, b) => a + b, 0) / m.length;
  };
  const find = (instances: number, preload: number) =>
    figures.find((f) => f.config.instances === instances && f.config.preload === preload);
  const comparisons: { title: string; cell(r: Row): string }[] = [];
  if (find(INSTANCES, 0) && INSTANCES > 1)
    comparisons.push({ title: `${INSTANCES} instances vs 1`, cell: (r) => compare(r, find(1, 0), find(INSTANCES, 0), 'ratio') });
  if (find(1, PRELOAD) && PRELOAD > 0)
    comparisons.push({
      title: `${PRELOAD.toLocaleString('en')} old messages vs none`,
      cell: (r) => compare(r, find(1, 0), find(1, PRELOAD), 'change'),
    });
  const header = ['Figure', 'Target', ...figures.map((f) => configName(f.config)), ...comparisons.map((c) => c.title)];
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`];
  for (const r of rows(kind, ceilingOf))
    lines.push(`| ${[r.figure, r.target, ...figures.map((f) => r.cell(f)), ...comparisons.map((c) => c.cell(r))].join(' | ')} |`);

  const cpus = os.cpus();
  const options = process.argv.slice(2).join(' ');
  const notes = [
    `### \`npm run bench:send${options ? ` -- ${options}` : ''}\`: ${version}, ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `${cpus.length} × ${cpus[0]?.model ?? 'CPU'} (\`os.cpus().length\` = ${cpus.length}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, ` +
      `Node ${process.version}; load average ${startLoad.join(' / ')} (1 / 5 / 15 min) before the run. ` +
      `One provider, SMTP_POOL_MAX_CONNECTIONS ${POOL} per instance, ${CLIENTS} HTTP clients, ${TOTAL.toLocaleString('en')} messages ` +
      `timed after ${WARMUP.toLocaleString('en')} warm-up, ${TEXT.length}-byte text bodies; batches: ${BATCH_CLIENTS} clients × ${BATCH_SIZE} ` +
      `messages, ${BATCH_TOTAL.toLocaleString('en')} timed` +
      (REPEAT > 1 ? `; every figure is the median of ${REPEAT} interleaved repetitions` : '') +
      (Object.keys(EXTRA_ENV).length
        ? `; service settings ${Object.entries(EXTRA_ENV)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')}`
        : '') +
      '.',
    '',
    ...lines,
    '',
    `Ceilings (nodemailer alone, before / after this database's runs): ` +
      [...ceilings].map(([c, m]) => `${c} connections ${m.map(int).join(' / ')} msg/s`).join('; ') +
      '.',
  ];
  for (const f of figures)
    if (f.preloaded)
      notes.push(
        `Preload (${configName(f.config)}): ${f.preloaded.messages.toLocaleString('en')} messages over ${PRELOAD_DAYS} days ` +
          `(${f.preloaded.sent.toLocaleString('en')} sent, the rest failed; bodies kept for ${PRELOAD_BODY_DAYS} days), ` +
          `${f.preloaded.attempts.toLocaleString('en')} attempts, ${f.preloaded.tableSize} with indexes, written in ${f.preloaded.seconds.toFixed(0)} s.`,
      );
  if (kind === 'pglite' && INSTANCES > 1) notes.push(`--instances applies to PostgreSQL only: the embedded database serves one process.`);
  return notes.join('\n');
}

async function serverVersion(kind: Kind): Promise<string> {
  if (kind === 'pglite') return 'embedded PGlite';
  const [row] = await admin<{ v: string }>(`SELECT current_setting('server_version') AS v`);
  return `PostgreSQL ${row.v.split(' ')[0]}`;
}

async function measureDatabase(kind: Kind, sink: Sink): Promise<string> {
  const startedAt = new Date();
  const startLoad = loadAverage();
  const version = await serverVersion(kind);
  const instanceCounts = kind === 'postgres' && INSTANCES > 1 ? [1, INSTANCES] : [1];
  const preloads = PRELOAD > 0 ? [0, PRELOAD] : [0];
  const ceilings = new Map<number, number[]>();
  const measureCeilings = async () => {
    for (const n of instanceCounts) ceilings.set(POOL * n, [...(ceilings.get(POOL * n) ?? []), await ceiling(sink, POOL * n)]);
  };
  await measureCeilings();
  const configs = preloads.flatMap((preload) => instanceCounts.map((instances) => ({ instances, preload })));
  // Repetitions interleaved (A B A B, not A A B B), so that a busy spell of the machine hits both sides of a comparison.
  const runs: Figures[][] = configs.map(() => []);
  for (let r = 0; r < REPEAT; r++) {
    if (REPEAT > 1) log(`\nrepetition ${r + 1} of ${REPEAT}`);
    for (const [i, config] of configs.entries()) runs[i].push(await measureConfig(kind, sink, config));
  }
  const figures = runs.map((each) => median(each));
  await measureCeilings();
  return table(kind, version, figures, ceilings, startLoad, startedAt);
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

async function profile(sink: Sink, n: number): Promise<string[]> {
  const out: string[] = [];
  const db = await freshDatabase('postgres');
  const env = serviceEnv(db);
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
    await createProvider(url, sink.port);
    sink.reset();
    await postMessages([url], CLIENTS, WARMUP, 0);
    await sink.waitFor(WARMUP, 120_000);
    await waitSent(url, WARMUP);
    sink.reset();
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 500 });
    await post('Profiler.start');
    counting = true;
    const t0 = Date.now();
    await postMessages([url], CLIENTS, n, WARMUP);
    const st = await sink.waitFor(n, 300_000);
    await waitSent(url, WARMUP + n);
    counting = false;
    const { profile: cpu } = await post<{ profile: CpuProfile }>('Profiler.stop');
    out.push(
      `Profile pass (PostgreSQL, the service IN the benchmark process with the load generator): ` +
        `${n} messages at ${Math.round(n / ((st.last - t0) / 1000))} msg/s.`,
      '',
      `SQL round trips per message (count, mean latency as seen by the service; includes this script's GET /messages polls):`,
      '',
      '| Per message | Mean latency | Statement |',
      '| --- | --- | --- |',
    );
    let total = 0;
    for (const [k, v] of [...stats].sort((a, b) => b[1].count - a[1].count)) {
      total += v.count;
      out.push(`| ${(v.count / n).toFixed(2)} | ${(v.ms / v.count).toFixed(2)} ms | ${k.replace(/\|/g, '\\|')} |`);
    }
    out.push(
      `| ${(total / n).toFixed(2)} | | in all |`,
      '',
      `CPU of the benchmark process by where the code lives (self time, share of samples):`,
      '',
    );
    out.push('| Share | Where |', '| --- | --- |');
    for (const [k, share] of cpuByPlace(cpu).slice(0, 14)) out.push(`| ${(share * 100).toFixed(1)} % | ${k} |`);
    return out;
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
  log(
    `${os.cpus().length} cores, load average ${loadAverage().join(' ')}; ${TOTAL} messages per run after ${WARMUP} warm-up, ` +
      `${CLIENTS} POSTs in flight; databases ${DBS.join(', ')}; instances ${INSTANCES}; preload ${PRELOAD}`,
  );
  const sink = await Sink.start();
  try {
    for (const kind of DBS) console.log(`\n${await measureDatabase(kind, sink)}\n`);
    if (PROFILE && DBS.includes('postgres')) {
      try {
        console.log(`${(await profile(sink, PROFILE_MESSAGES)).join('\n')}\n`);
      } catch (err) {
        // The tables above stand without it.
        log(`profile pass failed: ${err instanceof Error ? err.stack : String(err)}`);
      }
    }
  } finally {
    sink.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
