import { afterEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { API, startApp, type TestApp } from './support/app.js';
import { provisionDatabase, type TestDatabase } from './support/database.js';
import { fastSendingEnv, providerFor, type MessageBody } from './support/sending.js';
import { TestSmtpServer } from './support/smtp-server.js';

/**
 * Reproduces the duplicate sends found from outside (issue #9): no crash, no SMTP fault, just a
 * slow server and more workers than pooled SMTP connections, so an attempt waits in the pool's
 * queue longer than its lease. Before claims were fenced one by one and leases kept alive, the
 * message was claimed again meanwhile and went out twice.
 */

const TOTAL = 200;
const DATA_DELAY_MS = 600;

describe('Sending leases: a slow server and a short lease send nothing twice', () => {
  let db: TestDatabase | null = null;
  let sink: TestSmtpServer | null = null;
  const apps: TestApp[] = [];

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((t) => t.close()));
    await sink?.close();
    await db?.drop();
  });

  it('should deliver every message exactly once when attempts wait in the SMTP pool longer than the lease', async () => {
    db = await provisionDatabase();
    // Two instances on a server database; the embedded database serves one process (the reported
    // duplicates were an instance reclaiming its own messages, so one instance shows it too).
    const instances = db.server ? 2 : 1;
    const connections = 8 / instances;
    // Each instance holds 16 messages per pooled connection: the last waits ~16 × 0.6 s ≈ 10 s in
    // the pool's queue, twice the 5 s lease.
    const env = fastSendingEnv({
      LOG_LEVEL: 'warn',
      SEND_WORKERS_ENABLED: 'true',
      SEND_WORKER_CONCURRENCY: String(connections * 16),
      SMTP_POOL_MAX_CONNECTIONS: String(connections),
      SEND_LEASE_SECONDS: '5',
      SMTP_SOCKET_TIMEOUT_MS: '2000',
    });
    sink = await TestSmtpServer.start({ onDataDelayMs: DATA_DELAY_MS });
    for (let i = 0; i < instances; i++) apps.push(await startApp({ db, env: { ...env, MESSAGE_ID_DOMAIN: `instance-${i}.test.local` } }));
    const provider = await providerFor(apps[0], sink);

    const accepted: MessageBody[] = [];
    for (let i = 0; i < TOTAL; i += 20)
      accepted.push(
        ...(await Promise.all(
          Array.from({ length: 20 }, async (_, j) => {
            const t = apps[(i + j) % apps.length];
            const res = await request(t.server)
              .post(`${API}/send/`)
              .set(t.auth)
              .send({ to: `rcpt${i + j}@example.com`, subject: `Lease ${i + j}`, text: 'slow server' });
            expect(res.status).toBe(202);
            return res.body as MessageBody;
          }),
        )),
      );

    const ds = apps[0].app.get(DataSource);
    const deadline = Date.now() + 90_000;
    for (;;) {
      const [{ open }] = await ds.query(`SELECT count(*)::int AS open FROM messages WHERE status NOT IN ('sent', 'failed')`);
      if (open === 0) break;
      if (Date.now() > deadline) throw new Error(`${open} messages still open`);
      await new Promise((r) => setTimeout(r, 250));
    }
    // Let any stale attempt still in a pool's queue reach the server before counting.
    await new Promise((r) => setTimeout(r, 3 * DATA_DELAY_MS));

    const statuses: { status: string; n: number }[] = await ds.query(`SELECT status, count(*)::int AS n FROM messages GROUP BY status`);
    expect(statuses).toEqual([{ status: 'sent', n: TOTAL }]);
    const copies = new Map<string, number>();
    for (const m of sink.received) copies.set(m.parsed.messageId as string, (copies.get(m.parsed.messageId as string) ?? 0) + 1);
    expect([...copies.keys()].sort()).toEqual(accepted.map((m) => m.message_id).sort());
    const duplicated = [...copies].filter(([, n]) => n > 1);
    expect(duplicated).toEqual([]);
    expect(sink.received).toHaveLength(TOTAL);

    // Usage and statistics count each message once.
    const stats = (await request(apps[0].server).get(`${API}/providers/statistics/`).set(apps[0].auth).expect(200)).body as {
      provider_id: number;
      emails_sent_today: number;
      total_attempts: number;
    }[];
    expect(stats.find((s) => s.provider_id === provider.id)).toMatchObject({ emails_sent_today: TOTAL, total_attempts: TOTAL });
  });
});
