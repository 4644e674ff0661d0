import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { API, startApp, type TestApp } from './support/app.js';

interface Caller {
  auth: Record<string, string>;
  keyId: number | null;
  body: { to: string; subject: string; text: string };
  key?: string;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: { id?: number; subject?: string; message_id?: string; detail?: string };
}

describe('POST /send/ under concurrency (group commit: concurrent messages share one INSERT)', () => {
  let t: TestApp;
  let sendKey: { id: number; auth: Record<string, string> };
  const db = () => t.app.get(DataSource);

  beforeAll(async () => {
    // No worker: the rows stay exactly as accepted.
    t = await startApp({ env: { SEND_WORKERS_ENABLED: 'false', MESSAGE_ID_DOMAIN: 'mail.test.local' } });
    await t.app.listen(0, '127.0.0.1');
    const res = await request(t.server)
      .post(`${API}/api-keys/`)
      .set(t.auth)
      .send({ name: 'sender', scopes: ['send'] });
    sendKey = { id: res.body.id, auth: { Authorization: `Bearer ${res.body.key}` } };
  });
  afterAll(async () => {
    await t.close();
  });

  it('should answer each of 200 concurrent callers with its own stored row, and store exactly one row per idempotency key', async () => {
    const callers: Caller[] = [];
    // 120 messages without a key, half from each API key.
    for (let i = 0; i < 120; i += 1) {
      const [auth, keyId] = i % 2 ? [t.auth, null] : [sendKey.auth, sendKey.id];
      callers.push({ auth, keyId, body: { to: `u${i}@example.com`, subject: `single ${i}`, text: 'x' } });
    }
    // 20 idempotency keys, each sent 4 times at once: three identical requests and one that differs.
    // Keys 0-9 are used by both API keys, which are separate namespaces.
    for (let k = 0; k < 20; k += 1) {
      const [auth, keyId] = k < 10 ? [sendKey.auth, sendKey.id] : [t.auth, null];
      const key = `shared-${k % 10}`;
      for (let n = 0; n < 4; n += 1)
        callers.push({ auth, keyId, key, body: { to: `k${k}@example.com`, subject: n === 3 ? `other ${k}` : `keyed ${k}`, text: 'x' } });
    }
    expect(callers).toHaveLength(200);

    const answers: Answer[] = await Promise.all(
      callers.map((c) => {
        const req = request(t.server).post(`${API}/send/`).set(c.auth);
        return (c.key ? req.set('Idempotency-Key', c.key) : req).send(c.body);
      }),
    );

    const rows: { id: string; subject: string; message_id: string; api_key_id: number | null; idempotency_key: string | null }[] =
      await db().query('SELECT id::text, subject, message_id, api_key_id, idempotency_key FROM messages');
    const byId = new Map(rows.map((r) => [Number(r.id), r]));
    expect(rows).toHaveLength(120 + 20);
    expect(new Set(rows.map((r) => r.message_id)).size).toBe(rows.length);

    // Callers without a key: 202, their own subject, a row of their own holding it.
    const singles = answers.slice(0, 120);
    expect(singles.map((a) => [a.status, a.headers['idempotent-replayed']])).toEqual(singles.map(() => [202, undefined]));
    singles.forEach((a, i) => {
      const row = byId.get(a.body.id as number);
      expect([row?.subject, row?.message_id, row?.api_key_id ?? null]).toEqual([`single ${i}`, a.body.message_id, callers[i].keyId]);
    });
    expect(new Set(singles.map((a) => a.body.id)).size).toBe(120);

    // Each key: one caller stored its request; the others got that row (a replay: 202 with Idempotent-Replayed, same
    // request) or 422 (different request).
    for (let k = 0; k < 20; k += 1) {
      const group = answers.slice(120 + 4 * k, 124 + 4 * k);
      const sent = callers.slice(120 + 4 * k, 124 + 4 * k);
      const stored = (a: Answer) => a.status === 202 && a.headers['idempotent-replayed'] === undefined;
      const winner = group.findIndex(stored);
      expect(group.filter(stored)).toHaveLength(1);
      const row = byId.get(group[winner].body.id as number);
      expect([row?.subject, row?.idempotency_key, row?.api_key_id ?? null]).toEqual([
        sent[winner].body.subject,
        `shared-${k % 10}`,
        sent[winner].keyId,
      ]);
      group.forEach((a, n) => {
        if (n === winner) return;
        if (sent[n].body.subject === sent[winner].body.subject)
          expect([a.status, a.headers['idempotent-replayed'], a.body.id]).toEqual([202, 'true', group[winner].body.id]);
        else expect([a.status, a.body]).toEqual([422, { detail: 'This Idempotency-Key was already used with a different request.' }]);
      });
    }

    // Rows written by one statement share its transaction's now(): fewer distinct times than rows means some shared an INSERT.
    const [{ statements }] = await db().query('SELECT count(DISTINCT created_at)::int AS statements FROM messages');
    expect(statements).toBeLessThan(rows.length);
  });
});
