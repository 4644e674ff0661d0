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
import { admin, BASE_URL } from './support.js';

const TOTAL = Number(process.env.BENCH_TOTAL ?? 20_000);
const CONNECTIONS = 5;
const TEXT = 'x'.repeat(512);
const KEY = `bench-drain-${randomBytes(16).toString('hex')}`;

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
        transport.sendMail({ from: 'bench@example.com', to: `user${i}@example.com`, subject: `Drain ${i}`, text: TEXT }),
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
    ADMIN_API_KEY: KEY,
    FERNET_KEYS: `${randomBytes(32).toString('base64url')}=`,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    SMTP_POOL_MAX_CONNECTIONS: String(CONNECTIONS),
  };
  const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
  const sink = await Sink.start();
  try {
    const filler = await startService({ ...env, SEND_WORKERS_ENABLED: 'false' });
    try {
      const created = await fetch(`${filler.url}/api/email-provider/providers/`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          name: 'sink',
          provider_type: 'smtp',
          smtp_host: '127.0.0.1',
          smtp_port: sink.port,
          smtp_username: '',
          smtp_password: '',
          smtp_use_tls: false,
          smtp_use_ssl: false,
          from_email: 'bench@example.com',
          from_name: 'Bench',
          is_default: true,
        }),
      });
      if (created.status !== 201) throw new Error(`provider: ${created.status} ${await created.text()}`);
      for (let i = 0; i < TOTAL; i += 500) {
        const batch = Array.from({ length: Math.min(500, TOTAL - i) }, (_, k) => ({
          to: [`user${i + k}@example.com`],
          subject: `Drain ${i + k}`,
          text: TEXT,
        }));
        const res = await fetch(`${filler.url}/api/email-provider/send/batch/`, { method: 'POST', headers, body: JSON.stringify({ messages: batch }) });
        if (res.status !== 200) throw new Error(`batch: ${res.status} ${await res.text()}`);
      }
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
