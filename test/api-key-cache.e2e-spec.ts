import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { API, startApp, type TestApp } from './support/app.js';
import { provisionServerDatabase, type TestDatabase } from './support/database.js';

const INVALID = { detail: 'Invalid token.' };

async function sendKey(on: TestApp, body: Record<string, unknown> = {}): Promise<{ id: number; auth: { Authorization: string } }> {
  const res = await request(on.server)
    .post(`${API}/api-keys/`)
    .set(on.auth)
    .send({ name: 'cached', scopes: ['send'], ...body });
  expect(res.status).toBe(201);
  return { id: res.body.id, auth: { Authorization: `Bearer ${res.body.key}` } };
}

const use = (on: TestApp, auth: { Authorization: string }) => request(on.server).get(`${API}/messages/`).set(auth);

describe('API key lookups cached for API_KEY_CACHE_SECONDS', () => {
  describe('on one instance', () => {
    let t: TestApp;

    beforeAll(async () => {
      // Far longer than any test here: whatever stops a key below does so despite the cache.
      t = await startApp({ env: { API_KEY_CACHE_SECONDS: '300' } });
    });
    afterAll(async () => {
      await t.close();
    });

    it('should refuse a key at once when it is revoked on this instance', async () => {
      const key = await sendKey(t);
      expect((await use(t, key.auth)).status).toBe(200);
      expect((await use(t, key.auth)).status).toBe(200);
      await request(t.server).delete(`${API}/api-keys/${key.id}/`).set(t.auth).expect(204);
      const refused = await use(t, key.auth);
      expect([refused.status, refused.body]).toEqual([401, INVALID]);
    });

    it('should refuse a key at once when it expires, although its lookup is cached', async () => {
      const key = await sendKey(t, { expires_at: new Date(Date.now() + 1500).toISOString() });
      const expiresAt = Date.parse(
        (await request(t.server).get(`${API}/api-keys/`).set(t.auth)).body.find((k: { id: number }) => k.id === key.id).expires_at,
      );
      expect((await use(t, key.auth)).status).toBe(200);
      await sleep(Math.max(0, expiresAt - Date.now()) + 50);
      const refused = await use(t, key.auth);
      expect([refused.status, refused.body]).toEqual([401, { detail: 'Token expired.' }]);
    });

    it('should never let a wrong secret in under the prefix of a cached key', async () => {
      const key = await sendKey(t);
      expect((await use(t, key.auth)).status).toBe(200);
      const forged = { Authorization: `${key.auth.Authorization.slice(0, 'Bearer '.length + 13)}${'A'.repeat(43)}` };
      const refused = await use(t, forged);
      expect([refused.status, refused.body]).toEqual([401, INVALID]);
    });
  });

  describe('on two instances sharing one PostgreSQL', () => {
    const TTL_SECONDS = 1;
    let db: TestDatabase;
    let a: TestApp;
    let b: TestApp;

    beforeAll(async () => {
      // A server even in the embedded run: two processes cannot share one embedded database.
      db = await provisionServerDatabase();
      a = await startApp({ db, env: { API_KEY_CACHE_SECONDS: String(TTL_SECONDS) } });
      b = await startApp({ db, env: { API_KEY_CACHE_SECONDS: String(TTL_SECONDS) } });
    });
    afterAll(async () => {
      await Promise.all([a?.close(), b?.close()]);
      await db?.drop();
    });

    it('should refuse a key revoked on one instance at once there, and on the other within API_KEY_CACHE_SECONDS', async () => {
      const key = await sendKey(a);
      expect((await use(a, key.auth)).status).toBe(200);
      expect((await use(b, key.auth)).status).toBe(200); // b has looked it up now
      await request(a.server).delete(`${API}/api-keys/${key.id}/`).set(a.auth).expect(204);
      const revokedAt = Date.now();
      expect((await use(a, key.auth)).status).toBe(401);

      // b may still trust its lookup for a while, never longer than the TTL.
      await sleep(Math.max(0, revokedAt + TTL_SECONDS * 1000 - Date.now()));
      const refused = await use(b, key.auth);
      expect([refused.status, refused.body]).toEqual([401, INVALID]);
    });
  });
});
