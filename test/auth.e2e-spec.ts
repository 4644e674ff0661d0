import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { API, startApp, type TestApp } from './support/app.js';
import { smtpProviderBody } from './support/factories.js';

const FORBIDDEN = { detail: 'You do not have permission to perform this action.' };
const TOKEN = /^epk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/;

interface CreatedKey {
  id: number;
  name: string;
  prefix: string;
  scopes: string[];
  key: string;
}

describe('Authentication and API keys', () => {
  let t: TestApp;
  /** Every token handed out, to check none reaches a log line. */
  const issued: CreatedKey[] = [];
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

  const createKey = async (scopes: string[], name = `key ${scopes.join('+')} ${issued.length}`): Promise<CreatedKey> => {
    const res = await request(t.server).post(`${API}/api-keys/`).set(t.auth).send({ name, scopes });
    expect(res.status).toBe(201);
    issued.push(res.body as CreatedKey);
    return res.body as CreatedKey;
  };

  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t.close();
  });

  describe('without valid credentials', () => {
    it('should answer 401 with a WWW-Authenticate header when no Authorization is sent', async () => {
      const res = await request(t.server).get(`${API}/providers/`);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ detail: 'Authentication credentials were not provided.' });
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    });

    it.each([
      ['an unknown bearer token', 'Bearer not-the-right-token-at-all'],
      ['a well-formed token that was never issued', `Bearer epk_0123abcd_${'A'.repeat(43)}`],
      ['the admin key with a character missing', `Bearer e2e-admin-key-0123456789abcde`],
    ])('should answer 401 Invalid token. when the request carries %s', async (_, header) => {
      const res = await request(t.server).get(`${API}/providers/`).set('Authorization', header);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ detail: 'Invalid token.' });
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    });

    it.each([
      ['a Basic scheme', 'Basic xyz'],
      ['a bare token without a scheme', 'e2e-admin-key-0123456789abcdef'],
      ['Bearer with no token', 'Bearer '],
      ['Bearer with two tokens', 'Bearer one two'],
    ])('should answer 401 with a detail when the header has %s', async (_, header) => {
      const res = await request(t.server).post(`${API}/providers/`).set('Authorization', header).send(smtpProviderBody());
      expect(res.status).toBe(401);
      expect(Object.keys(res.body)).toEqual(['detail']);
      expect(typeof res.body.detail).toBe('string');
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    });

    it('should create nothing when a write is refused for lack of credentials', async () => {
      const body = smtpProviderBody();
      expect((await request(t.server).post(`${API}/providers/`).send(body)).status).toBe(401);
      const names = ((await request(t.server).get(`${API}/providers/`).set(t.auth)).body as { name: string }[]).map((p) => p.name);
      expect(names).not.toContain(body.name);
    });
  });

  describe('public routes', () => {
    it('should answer liveness without a token', async () => {
      const res = await request(t.server).get('/health/live');
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('ok');
    });

    it('should report the database and migrations up when readiness is asked without a token', async () => {
      const res = await request(t.server).get('/health/ready');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'ok', info: { database: { status: 'up' }, migrations: { status: 'up' } } });
    });

    it('should serve the API docs as HTML and JSON without a token', async () => {
      const html = await request(t.server).get('/api/docs');
      expect(html.status).toBe(200);
      expect(html.headers['content-type']).toMatch(/text\/html/);
      const json = await request(t.server).get('/api/docs-json');
      expect(json.status).toBe(200);
      expect(json.body.openapi).toMatch(/^3\./);
      expect(Object.keys(json.body.paths)).toEqual(
        expect.arrayContaining(['/api/email-provider/providers', '/api/email-provider/api-keys']),
      );
    });
  });

  describe('API keys', () => {
    it('should show the token once on creation, with its prefix and scopes', async () => {
      const res = await request(t.server)
        .post(`${API}/api-keys/`)
        .set(t.auth)
        .send({ name: 'billing-service', scopes: ['send'] });
      expect(res.status).toBe(201);
      issued.push(res.body as CreatedKey);
      expect(res.body).toMatchObject({ id: expect.any(Number), name: 'billing-service', scopes: ['send'], last_used_at: null });
      expect(res.body.key).toMatch(TOKEN);
      expect(res.body.key.startsWith(`${res.body.prefix}_`)).toBe(true);
      expect(res.body.created_at).toMatch(/Z$/);
    });

    it('should list keys without their tokens', async () => {
      const created = await createKey(['providers:read']);
      const res = await request(t.server).get(`${API}/api-keys/`).set(t.auth);
      expect(res.status).toBe(200);
      const listed = (res.body as Record<string, unknown>[]).find((k) => k.id === created.id);
      expect(listed).toEqual({
        id: created.id,
        name: created.name,
        scopes: ['providers:read'],
        prefix: created.prefix,
        created_at: expect.any(String),
        last_used_at: null,
        expires_at: null,
      });
      for (const key of issued) expect(res.text).not.toContain(key.key);
    });

    it('should let a providers:read key list providers but not write them or manage keys', async () => {
      const { key } = await createKey(['providers:read']);
      expect((await request(t.server).get(`${API}/providers/`).set(bearer(key))).status).toBe(200);
      for (const res of [
        await request(t.server).post(`${API}/providers/`).set(bearer(key)).send(smtpProviderBody()),
        await request(t.server).get(`${API}/api-keys/`).set(bearer(key)),
        await request(t.server)
          .post(`${API}/api-keys/`)
          .set(bearer(key))
          .send({ name: 'escalate', scopes: ['admin'] }),
      ]) {
        expect(res.status).toBe(403);
        expect(res.body).toEqual(FORBIDDEN);
      }
    });

    it('should let a providers:write key create a provider', async () => {
      const { key } = await createKey(['providers:write']);
      const res = await request(t.server).post(`${API}/providers/`).set(bearer(key)).send(smtpProviderBody());
      expect(res.status).toBe(201);
    });

    it('should refuse every providers route to a send key', async () => {
      const { key } = await createKey(['send']);
      for (const res of [
        await request(t.server).get(`${API}/providers/`).set(bearer(key)),
        await request(t.server).post(`${API}/providers/`).set(bearer(key)).send(smtpProviderBody()),
        await request(t.server).get(`${API}/providers/1/`).set(bearer(key)),
      ]) {
        expect(res.status).toBe(403);
        expect(res.body).toEqual(FORBIDDEN);
      }
    });

    it('should let an admin key do everything', async () => {
      const { key } = await createKey(['admin']);
      const created = await request(t.server).post(`${API}/providers/`).set(bearer(key)).send(smtpProviderBody());
      expect(created.status).toBe(201);
      expect((await request(t.server).get(`${API}/providers/${created.body.id}/`).set(bearer(key))).status).toBe(200);
      expect((await request(t.server).get(`${API}/api-keys/`).set(bearer(key))).status).toBe(200);
      const child = await request(t.server)
        .post(`${API}/api-keys/`)
        .set(bearer(key))
        .send({ name: 'made by admin key', scopes: ['send'] });
      expect(child.status).toBe(201);
      issued.push(child.body as CreatedKey);
      expect((await request(t.server).delete(`${API}/api-keys/${child.body.id}/`).set(bearer(key))).status).toBe(204);
    });

    it('should stop a key from authenticating when it is revoked', async () => {
      const created = await createKey(['providers:read']);
      expect((await request(t.server).get(`${API}/providers/`).set(bearer(created.key))).status).toBe(200);
      const del = await request(t.server).delete(`${API}/api-keys/${created.id}/`).set(t.auth);
      expect(del.status).toBe(204);
      expect(del.text).toBe('');
      const res = await request(t.server).get(`${API}/providers/`).set(bearer(created.key));
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ detail: 'Invalid token.' });
      const ids = ((await request(t.server).get(`${API}/api-keys/`).set(t.auth)).body as { id: number }[]).map((k) => k.id);
      expect(ids).not.toContain(created.id);
      expect((await request(t.server).delete(`${API}/api-keys/${created.id}/`).set(t.auth)).status).toBe(404);
    });

    it('should answer 404 when revoking a key that does not exist', async () => {
      const res = await request(t.server).delete(`${API}/api-keys/987654/`).set(t.auth);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ detail: 'Not found.' });
    });

    it.each<[string, Record<string, unknown>, Record<string, string[]>]>([
      ['a scope is unknown', { name: 'bad', scopes: ['providers:read', 'root'] }, { scopes: ['"root" is not a valid choice.'] }],
      ['the scope list is empty', { name: 'bad', scopes: [] }, { scopes: ['This selection may not be empty.'] }],
      ['scopes is not a list', { name: 'bad', scopes: 'admin' }, { scopes: ['Expected a list of items but got type "str".'] }],
      ['the name is missing', { scopes: ['send'] }, { name: ['This field is required.'] }],
      ['the name is blank', { name: '', scopes: ['send'] }, { name: ['This field may not be blank.'] }],
    ])('should answer 400 and create no key when %s', async (_, body, expected) => {
      const before = ((await request(t.server).get(`${API}/api-keys/`).set(t.auth)).body as unknown[]).length;
      const res = await request(t.server).post(`${API}/api-keys/`).set(t.auth).send(body);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(expected);
      expect(((await request(t.server).get(`${API}/api-keys/`).set(t.auth)).body as unknown[]).length).toBe(before);
    });

    it('should keep every token out of the logs, logging only its prefix', async () => {
      const created = await createKey(['send'], 'log check');
      await request(t.server).get(`${API}/providers/`).set(bearer(created.key)); // a 403, logged as a warning
      const logs = t.logs.text();
      expect(logs).toContain(created.prefix);
      for (const key of issued) {
        expect(logs).not.toContain(key.key);
        expect(logs).not.toContain(key.key.slice(key.prefix.length + 1)); // the secret part on its own
      }
      expect(logs).not.toContain(t.auth.Authorization.slice('Bearer '.length));
    });
  });
});
