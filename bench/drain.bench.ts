/**
 * Delivery alone: how fast a fresh instance drains a full queue, beside nodemailer's pooled
 * transport alone over the same number of connections to the same sink, in the same run.
 * `bench:send` measures accepting and delivering at once; this separates the delivery pipeline's
 * own bound from what sharing one event loop (and two cores) with the HTTP accept path costs.
 *
 * The queue is filled through POST /send/batch/ by an instance with its workers off; then an
 * instance with workers on starts, and the time runs from the sink's first message to its last.
 *
 *   npm run bench:drain                 (DATABASE_URL defaults to the local server's `test`)
 *   BENCH_TOTAL=50000 npm run bench:drain
 */
import nodemailer from 'nodemailer';
import os from 'node:os';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { cpuSeconds, postgresCpuSeconds, Sink, startService } from './processes.js';
import { ADMIN_KEY, createProvider, messageBody, postBatch } from './send-load.js';
import { admin, BASE_URL } from './support.js';

const TOTAL = Number(process.env.BENCH_TOTAL ?? 20_000);
const CONNECTIONS = 5;

async function ceiling(sink: Sink): Promise<number> {
  const transport = nodemailer.createTransport({
    pool: true,
    host: '127.0.0.1',
    port: sink.port,
    maxConnections: CONNECTIONS,
    maxMessages: 100,
    ignoreTLS: true,
    name: 'bench.local',
    logger: false,
  });
  try {
    sink.reset();
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: TOTAL }, (_, i) =>
        transport.sendMail({ from: 'bench@example.com', ...messageBody(i) }),
      ),
    );
    const st = await sink.waitFor(TOTAL, 300_000);
    return TOTAL / ((st.last - t0) / 1000);
  } finally {
    transport.close();
  }
}

async function main(): Promise<void> {
  const name = `bench_drain_${randomBytes(4).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(BASE_URL);
  url.pathname = `/${name}`;
  const env = {
    DATABASE_URL: url.toString(),
    ADMIN_API_KEY: ADMIN_KEY,
    FERNET_KEYS: `${randomBytes(32).toString('base64url')}=`,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    SMTP_POOL_MAX_CONNECTIONS: String(CONNECTIONS),
  };
  const sink = await Sink.start();
  try {
    const filler = await startService({ ...env, SEND_WORKERS_ENABLED: 'false' });
    try {
      await createProvider(filler.url, sink.port);
      for (let i = 0; i < TOTAL; i += 500)
        if (!(await postBatch(filler.url, i, Math.min(500, TOTAL - i)))) throw new Error('no batch endpoint');
    } finally {
      await filler.stop();
    }

    const ceilingBefore = await ceiling(sink);
    sink.reset();
    const service = await startService(env);
    const cpu0 = cpuSeconds(service.child.pid as number);
    const pg0 = postgresCpuSeconds();
    const st = await sink.waitFor(TOTAL, 600_000);
    const serviceMs = ((cpuSeconds(service.child.pid as number) - cpu0) * 1000) / TOTAL;
    const pgMs = ((postgresCpuSeconds() - pg0) * 1000) / TOTAL;
    await service.stop();
    const check = new pg.Client({ connectionString: url.toString() });
    await check.connect();
    const { rows } = await check.query(`SELECT count(*)::int AS sent FROM messages WHERE status = 'sent'`);
    await check.end();
    if (rows[0].sent !== TOTAL || st.count !== TOTAL) throw new Error(`${rows[0].sent} sent and ${st.count} received of ${TOTAL}`);
    const ceilingAfter = await ceiling(sink);
    const rate = TOTAL / ((st.last - st.first) / 1000);
    const ceil = (ceilingBefore + ceilingAfter) / 2;
    console.log(
      `${os.cpus().length} cores, load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}; ${TOTAL} messages queued, then drained by a fresh instance (${CONNECTIONS} SMTP connections)\n\n` +
        `| Figure | Value |\n| --- | --- |\n` +
        `| Drained by the service (msg/s) | ${Math.round(rate)} |\n` +
        `| nodemailer's pooled transport alone, ${CONNECTIONS} connections (msg/s, before / after) | ${Math.round(ceilingBefore)} / ${Math.round(ceilingAfter)} |\n` +
        `| Drain / ceiling | **${(rate / ceil).toFixed(2)}** |\n` +
        `| CPU per message: service / PostgreSQL | ${serviceMs.toFixed(2)} / ${pgMs.toFixed(2)} ms |\n`,
    );
  } finally {
    sink.stop();
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
