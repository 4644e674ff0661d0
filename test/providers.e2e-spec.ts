import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import request from 'supertest';
import { Fernet } from '../src/credentials/fernet.js';
import { API, FERNET_KEY, startApp, type TestApp } from './support/app.js';
import { smtpProviderBody } from './support/factories.js';

describe('Providers API (seed sections 1-4, 8, 9)', () => {
  let t: TestApp;
  const post = (path: string, body?: object) => request(t.server).post(`${API}${path}`).set(t.auth).send(body);
  const get = (path: string) => request(t.server).get(`${API}${path}`).set(t.auth);
  const patch = (path: string, body: object) => request(t.server).patch(`${API}${path}`).set(t.auth).send(body);
  const create = async (overrides: Record<string, unknown> = {}) => {
    const res = await post('/providers/', smtpProviderBody(overrides));
    expect(res.status).toBe(201);
    return res.body as Record<string, unknown> & { id: number };
  };

  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('should create a provider with the seed example body and answer the documented shape', async () => {
    const seedBody = {
      name: 'Gmail SMTP',
      provider_type: 'smtp',
      smtp_host: 'smtp.gmail.com',
      smtp_port: 587,
      smtp_username: 'your-email@gmail.com',
      smtp_password: 'your-app-password',
      smtp_use_tls: true,
      smtp_use_ssl: false,
      from_email: 'your-email@gmail.com',
      from_name: 'Your Company Name',
      reply_to: 'noreply@yourcompany.com',
      daily_limit: 1000,
      monthly_limit: 10000,
      rate_limit_per_minute: 10,
      priority: 1,
      is_active: true,
      is_default: false,
    };
    const res = await post('/providers/', seedBody);
    expect(res.status).toBe(201);
    const { smtp_password: _secret, ...echoed } = seedBody;
    expect(res.body).toMatchObject({
      ...echoed,
      provider_type_display: 'Custom SMTP',
      priority_display: 'Primary',
      health_status: 'unknown',
      health_status_display: 'Unknown',
      emails_sent_today: 0,
      emails_sent_this_month: 0,
      has_smtp_password: true,
      last_health_check: null,
    });
    expect(Number.isInteger(res.body.id)).toBe(true);
    expect(res.body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(res.body.updated_at).toMatch(/Z$/);
    expect(res.body).not.toHaveProperty('smtp_password');
    expect(JSON.stringify(res.body)).not.toContain('your-app-password');
  });

  it('should store the password as a Fernet token that opens to the password', async () => {
    const body = smtpProviderBody();
    const created = await create(body);
    const client = new pg.Client(
      t.db.server ? { connectionString: t.db.env.DATABASE_URL } : undefined, // PGlite is checked through the API only
    );
    if (!t.db.server) {
      expect(created.has_smtp_password).toBe(true);
      return;
    }
    await client.connect();
    try {
      const { rows } = await client.query('SELECT smtp_password_encrypted FROM providers WHERE id = $1', [created.id]);
      const token = rows[0].smtp_password_encrypted as string;
      expect(token).not.toContain(body.smtp_password as string);
      expect(new Fernet(FERNET_KEY).decryptToString(token)).toBe(body.smtp_password);
    } finally {
      await client.end();
    }
  });

  it('should apply documented defaults when optional fields are left out', async () => {
    const res = await post('/providers/', {
      name: `Minimal ${Date.now()}`,
      provider_type: 'smtp',
      smtp_host: 'mail.example.org',
      from_email: 'a@example.org',
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      smtp_port: 587,
      smtp_use_tls: true,
      smtp_use_ssl: false,
      smtp_username: null,
      has_smtp_password: false,
      from_name: '',
      reply_to: null,
      daily_limit: null,
      monthly_limit: null,
      rate_limit_per_minute: null,
      priority: 1,
      is_active: true,
      is_default: false,
    });
  });

  it('should accept an Amazon SES provider and keep its secret key write-only', async () => {
    const res = await post('/providers/', {
      name: `SES ${Date.now()}`,
      provider_type: 'aws_ses',
      aws_region: 'eu-west-1',
      aws_access_key_id: 'AKIAIOSFODNN7EXAMPLE',
      aws_secret_access_key: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      from_email: 'ses@example.com',
      priority: 2,
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ provider_type_display: 'Amazon SES', has_aws_secret_access_key: true, priority_display: 'Secondary' });
    expect(JSON.stringify(res.body)).not.toContain('wJalrXUtnFEMI');
  });

  it('should return one provider by id, with and without the trailing slash', async () => {
    const created = await create();
    for (const path of [`/providers/${created.id}/`, `/providers/${created.id}`]) {
      const res = await get(path);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(created);
    }
  });

  it('should list providers as a plain array, with and without the trailing slash', async () => {
    const created = await create();
    for (const path of ['/providers/', '/providers']) {
      const res = await get(path);
      expect(res.status).toBe(200);
      expect(Array.isArray(res.body)).toBe(true);
      expect(res.body).toContainEqual(created);
    }
  });

  it('should filter the list by provider_type, is_active, priority and health_status', async () => {
    const backup = await create({ priority: 3, is_active: false });
    const primary = await create({ priority: 1 });
    const ids = (res: request.Response) => (res.body as { id: number }[]).map((p) => p.id);

    const byPriority = await get('/providers/?priority=3');
    expect(ids(byPriority)).toContain(backup.id);
    expect(ids(byPriority)).not.toContain(primary.id);
    expect((byPriority.body as { priority: number }[]).every((p) => p.priority === 3)).toBe(true);

    const inactive = await get('/providers/?is_active=false');
    expect(ids(inactive)).toContain(backup.id);
    expect((inactive.body as { is_active: boolean }[]).every((p) => !p.is_active)).toBe(true);

    const smtpActive = await get('/providers/?provider_type=smtp&is_active=true');
    expect(ids(smtpActive)).toContain(primary.id);
    expect(ids(smtpActive)).not.toContain(backup.id);

    const unknown = await get('/providers/?health_status=unknown');
    expect(ids(unknown)).toEqual(expect.arrayContaining([primary.id, backup.id]));
    const healthy = await get('/providers/?health_status=healthy');
    expect(healthy.body).toEqual([]);
  });

  it('should update with PATCH and with a partial PUT, keeping fields left out', async () => {
    const created = await create({ daily_limit: 1000 });
    const patched = await patch(`/providers/${created.id}/`, { name: `Updated ${created.id}`, daily_limit: 2000, is_active: true });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ ...created, name: `Updated ${created.id}`, daily_limit: 2000, updated_at: expect.any(String) });
    expect(Date.parse(patched.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(created.updated_at as string));

    const put = await request(t.server).put(`${API}/providers/${created.id}`).set(t.auth).send({ monthly_limit: 5 });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ name: `Updated ${created.id}`, daily_limit: 2000, monthly_limit: 5 });
  });

  it('should keep the stored password when an update leaves it blank, and replace it when given', async () => {
    const created = await create();
    const blank = await patch(`/providers/${created.id}/`, { smtp_password: '' });
    expect(blank.body.has_smtp_password).toBe(true);
    const replaced = await patch(`/providers/${created.id}/`, { smtp_password: 'brand-new-secret' });
    expect(replaced.status).toBe(200);
    expect(replaced.body.has_smtp_password).toBe(true);
    expect(JSON.stringify(replaced.body)).not.toContain('brand-new-secret');
  });

  it('should set null limits (unlimited) and reject a null name', async () => {
    const created = await create();
    const unlimited = await patch(`/providers/${created.id}/`, { daily_limit: null });
    expect(unlimited.status).toBe(200);
    expect(unlimited.body.daily_limit).toBeNull();
    const bad = await patch(`/providers/${created.id}/`, { name: null });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ name: ['This field may not be null.'] });
  });

  it('should activate and deactivate with the documented messages', async () => {
    const created = await create();
    const off = await post(`/providers/${created.id}/deactivate/`);
    expect(off.status).toBe(200);
    expect(off.body).toEqual({ message: 'Provider deactivated successfully' });
    expect((await get(`/providers/${created.id}/`)).body.is_active).toBe(false);
    const on = await post(`/providers/${created.id}/activate`);
    expect(on.status).toBe(200);
    expect(on.body).toEqual({ message: 'Provider activated successfully' });
    expect((await get(`/providers/${created.id}/`)).body.is_active).toBe(true);
  });

  it('should keep at most one default provider, clearing the old one', async () => {
    const a = await create({ is_default: true });
    const b = await create({ is_default: true });
    expect((await get(`/providers/${a.id}/`)).body.is_default).toBe(false);
    expect((await get(`/providers/${b.id}/`)).body.is_default).toBe(true);
    await patch(`/providers/${a.id}/`, { is_default: true });
    const defaults = ((await get('/providers/')).body as { id: number; is_default: boolean }[]).filter((p) => p.is_default);
    expect(defaults.map((p) => p.id)).toEqual([a.id]);
  });

  it('should end with exactly one default when many requests set it concurrently', async () => {
    const providers = await Promise.all(Array.from({ length: 8 }, () => create()));
    const results = await Promise.all(providers.map((p) => patch(`/providers/${p.id}/`, { is_default: true })));
    expect(results.map((r) => r.status)).toEqual(providers.map(() => 200));
    const concurrentCreates = await Promise.all(
      Array.from({ length: 6 }, () => post('/providers/', smtpProviderBody({ is_default: true }))),
    );
    expect(concurrentCreates.map((r) => r.status)).toEqual(concurrentCreates.map(() => 201));
    const defaults = ((await get('/providers/')).body as { is_default: boolean }[]).filter((p) => p.is_default);
    expect(defaults).toHaveLength(1);
  });

  it('should soft-delete: 204, then invisible to get, list, filters and updates', async () => {
    const created = await create({ is_default: true, priority: 2 });
    const del = await request(t.server).delete(`${API}/providers/${created.id}/`).set(t.auth);
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expect((await get(`/providers/${created.id}/`)).status).toBe(404);
    const ids = (body: { id: number }[]) => body.map((p) => p.id);
    expect(ids((await get('/providers/')).body)).not.toContain(created.id);
    expect(ids((await get('/providers/?priority=2')).body)).not.toContain(created.id);
    expect((await patch(`/providers/${created.id}/`, { name: 'ghost' })).status).toBe(404);
    expect((await post(`/providers/${created.id}/activate/`)).status).toBe(404);
    expect((await request(t.server).delete(`${API}/providers/${created.id}/`).set(t.auth)).status).toBe(404);
    if (t.db.server) {
      const client = new pg.Client({ connectionString: t.db.env.DATABASE_URL });
      await client.connect();
      const { rows } = await client.query('SELECT deleted_at, is_default FROM providers WHERE id = $1', [created.id]);
      await client.end();
      expect(rows[0].deleted_at).not.toBeNull();
      expect(rows[0].is_default).toBe(false);
    }
  });

  it('should free a deleted provider name for reuse but reject a live duplicate', async () => {
    const created = await create();
    const dup = await post('/providers/', smtpProviderBody({ name: created.name }));
    expect(dup.status).toBe(400);
    expect(dup.body).toEqual({ name: ['email provider with this name already exists.'] });
    await request(t.server).delete(`${API}/providers/${created.id}/`).set(t.auth).expect(204);
    expect((await post('/providers/', smtpProviderBody({ name: created.name }))).status).toBe(201);
  });

  it('should never put a password or its ciphertext in a response or a log line', async () => {
    const secret = 'S3cret-Never-Shown-9f8e7d';
    const created = await create({ smtp_password: secret });
    await patch(`/providers/${created.id}/`, { smtp_password: `${secret}-2` });
    await post('/providers/', smtpProviderBody({ smtp_password: secret, smtp_port: 'not-a-port' }));
    const bodies = [JSON.stringify((await get(`/providers/${created.id}/`)).body), JSON.stringify((await get('/providers/')).body)];
    for (const body of bodies) {
      expect(body).not.toContain(secret);
      expect(body).not.toMatch(/gAAAAA/); // every Fernet token starts with this
    }
    const logs = t.logs.text();
    expect(logs.length).toBeGreaterThan(0);
    expect(logs).toContain(`/providers/${created.id}/`);
    expect(logs).not.toContain(secret);
    expect(logs).not.toMatch(/gAAAAA/);
    expect(logs).not.toContain(FERNET_KEY);
  });
});
