import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { API, startApp, type TestApp } from './support/app.js';

interface KeyBody {
  id: number;
  key: string;
  expires_at: string | null;
  last_used_at: string | null;
}

const WRONG_FORMAT = 'Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].';
const NOT_FUTURE = 'Ensure this date-time is in the future.';

describe('API key expiry and last use', () => {
  let t: TestApp;
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
  const create = (body: Record<string, unknown>) =>
    request(t.server)
      .post(`${API}/api-keys/`)
      .set(t.auth)
      .send({ name: 'front end', scopes: ['providers:read'], ...body });
  const listed = async (id: number): Promise<KeyBody> => {
    const res = await request(t.server).get(`${API}/api-keys/`).set(t.auth);
    return (res.body as KeyBody[]).find((k) => k.id === id)!;
  };
  const db = () => t.app.get(DataSource);
  /** PostgreSQL's row version: it changes on every UPDATE of the row, even one that sets the same values. */
  const rowVersion = async (id: number): Promise<string> =>
    ((await db().query('SELECT xmin::text AS v FROM api_keys WHERE id = $1', [id])) as { v: string }[])[0].v;
  const waitFor = async <T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const value = await read();
      if (ok(value)) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
      await sleep(50);
    }
  };

  beforeAll(async () => {
    // Every request reads the key, so that moving last_used_at back in the database (below) is what the
    // service sees; the cached path is tested in api-key-cache.e2e-spec.ts and api-keys.service.spec.ts.
    t = await startApp({ env: { API_KEY_CACHE_SECONDS: '0' } });
  });
  afterAll(async () => {
    await t.close();
  });

  describe('expires_at', () => {
    it('should accept a future date-time, show it, and let the key work until then', async () => {
      const at = new Date(Date.now() + 86_400_000);
      const res = await create({ expires_at: at.toISOString().replace('Z', '+00:00') });
      expect(res.status).toBe(201);
      expect(res.body.expires_at).toBe(at.toISOString());
      expect((await listed(res.body.id)).expires_at).toBe(at.toISOString());
      expect((await request(t.server).get(`${API}/providers/`).set(bearer(res.body.key))).status).toBe(200);
    });

    it('should make a key that never expires when expires_at is left out or null', async () => {
      for (const body of [{}, { expires_at: null }]) {
        const res = await create(body);
        expect(res.status).toBe(201);
        expect(res.body.expires_at).toBeNull();
      }
    });

    it.each([
      ['in the past', () => new Date(Date.now() - 60_000).toISOString(), NOT_FUTURE],
      ['now', () => new Date().toISOString(), NOT_FUTURE],
      ['without a time zone', () => '2999-01-01T00:00:00', WRONG_FORMAT],
      ['a date alone', () => '2999-01-01', WRONG_FORMAT],
      ['a day the month lacks', () => '2999-02-30T00:00:00Z', WRONG_FORMAT],
      ['a month that does not exist', () => '2999-13-01T00:00:00Z', WRONG_FORMAT],
      ['words', () => 'tomorrow', WRONG_FORMAT],
      ['a number', () => 4_102_444_800, WRONG_FORMAT],
      ['blank', () => '', WRONG_FORMAT],
    ])('should answer 400 keyed expires_at when it is %s, and create no key', async (_, value, message) => {
      const before = ((await request(t.server).get(`${API}/api-keys/`).set(t.auth)).body as unknown[]).length;
      const res = await create({ expires_at: value() });
      expect([res.status, res.body]).toEqual([400, { expires_at: [message] }]);
      expect((await request(t.server).get(`${API}/api-keys/`).set(t.auth)).body).toHaveLength(before);
    });

    it('should answer 401 Token expired. once the key has expired', async () => {
      const res = await create({ expires_at: new Date(Date.now() + 1500).toISOString() });
      expect(res.status).toBe(201);
      expect((await request(t.server).get(`${API}/providers/`).set(bearer(res.body.key))).status).toBe(200);
      await sleep(Math.max(0, Date.parse(res.body.expires_at) - Date.now()) + 100);
      const expired = await request(t.server).get(`${API}/providers/`).set(bearer(res.body.key));
      expect([expired.status, expired.body]).toEqual([401, { detail: 'Token expired.' }]);
      expect(expired.headers['www-authenticate']).toMatch(/^Bearer/);
    });

    it('should say Invalid token., not Token expired., for a wrong secret under an expired key prefix', async () => {
      const res = await create({ expires_at: new Date(Date.now() + 86_400_000).toISOString() });
      await db().query(`UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1`, [res.body.id]);
      const forged = `${(res.body.key as string).slice(0, 13)}${'A'.repeat(43)}`;
      const wrong = await request(t.server).get(`${API}/providers/`).set(bearer(forged));
      expect([wrong.status, wrong.body]).toEqual([401, { detail: 'Invalid token.' }]);
      const right = await request(t.server).get(`${API}/providers/`).set(bearer(res.body.key));
      expect([right.status, right.body]).toEqual([401, { detail: 'Token expired.' }]);
    });
  });

  describe('last_used_at', () => {
    it('should be null until the key is used, then record the use', async () => {
      const res = await create({});
      expect(res.body.last_used_at).toBeNull();
      expect((await listed(res.body.id)).last_used_at).toBeNull();
      const before = Date.now();
      expect((await request(t.server).get(`${API}/providers/`).set(bearer(res.body.key))).status).toBe(200);
      const used = await waitFor(
        'last_used_at',
        () => listed(res.body.id),
        (k) => k.last_used_at !== null,
      );
      expect(Date.parse(used.last_used_at!)).toBeGreaterThanOrEqual(before - 5_000);
    });

    it('should not write the row again on further uses within a minute, and record a use after one', async () => {
      const { body } = await create({});
      await request(t.server).get(`${API}/providers/`).set(bearer(body.key)).expect(200);
      const first = await waitFor(
        'last_used_at',
        () => listed(body.id),
        (k) => k.last_used_at !== null,
      );
      const version = await rowVersion(body.id);
      for (let i = 0; i < 10; i += 1) await request(t.server).get(`${API}/providers/`).set(bearer(body.key)).expect(200);
      await sleep(300);
      expect(await rowVersion(body.id)).toBe(version);
      expect((await listed(body.id)).last_used_at).toBe(first.last_used_at);

      // A minute later (moved back rather than waited for), the next use is recorded.
      await db().query(`UPDATE api_keys SET last_used_at = now() - interval '61 seconds' WHERE id = $1`, [body.id]);
      const aged = (await listed(body.id)).last_used_at!;
      await request(t.server).get(`${API}/providers/`).set(bearer(body.key)).expect(200);
      const again = await waitFor(
        'a new last_used_at',
        () => listed(body.id),
        (k) => k.last_used_at !== aged,
      );
      expect(Date.parse(again.last_used_at!)).toBeGreaterThan(Date.parse(aged));
    });
  });
});
