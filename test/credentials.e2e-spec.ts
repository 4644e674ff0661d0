import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { Fernet } from '../src/credentials/fernet.js';
import { API, FERNET_KEY, startApp, type TestApp } from './support/app.js';
import { smtpProviderBody } from './support/factories.js';

describe('POST /providers/{id}/update_credentials/ (seed section 5)', () => {
  let t: TestApp;
  const stored = async (id: number) => {
    const rows = await t.app
      .get(DataSource)
      .query('SELECT smtp_password_encrypted, credentials_version, health_status FROM providers WHERE id = $1', [id]);
    return rows[0] as { smtp_password_encrypted: string | null; credentials_version: number; health_status: string };
  };
  const create = async (overrides: Record<string, unknown> = {}) =>
    (await request(t.server).post(`${API}/providers/`).set(t.auth).send(smtpProviderBody(overrides)).expect(201)).body as {
      id: number;
      name: string;
    };
  const updateCredentials = (id: number, body: object) =>
    request(t.server).post(`${API}/providers/${id}/update_credentials/`).set(t.auth).send(body);

  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('should change the connection in one step, echo the non-secret fields and reset health to unknown', async () => {
    const p = await create();
    await t.app.get(DataSource).query(`UPDATE providers SET health_status = 'healthy' WHERE id = $1`, [p.id]);
    const before = await stored(p.id);

    const res = await updateCredentials(p.id, {
      smtp_host: 'smtp.gmail.com',
      smtp_port: 587,
      smtp_username: 'new-email@gmail.com',
      smtp_password: 'new-app-password',
      smtp_use_tls: true,
      smtp_use_ssl: false,
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      smtp_host: 'smtp.gmail.com',
      smtp_port: 587,
      smtp_username: 'new-email@gmail.com',
      has_smtp_password: true,
      smtp_use_tls: true,
      smtp_use_ssl: false,
      aws_region: null,
      aws_access_key_id: null,
      has_aws_secret_access_key: false,
    });
    const after = await stored(p.id);
    expect(after.health_status).toBe('unknown');
    expect(after.credentials_version).toBe(before.credentials_version + 1);
    expect(new Fernet(FERNET_KEY).decryptToString(after.smtp_password_encrypted as string)).toBe('new-app-password');
    const detail = (await request(t.server).get(`${API}/providers/${p.id}/`).set(t.auth)).body;
    expect(detail).toMatchObject({ smtp_username: 'new-email@gmail.com', health_status: 'unknown', health_status_display: 'Unknown' });
  });

  it('should keep the password when it is left out or blank, and remove it when it is null', async () => {
    const p = await create({ smtp_password: 'keep-me' });
    await updateCredentials(p.id, { smtp_host: 'mail.example.net', smtp_port: 2525 }).expect(200);
    expect(new Fernet(FERNET_KEY).decryptToString((await stored(p.id)).smtp_password_encrypted as string)).toBe('keep-me');
    await updateCredentials(p.id, { smtp_host: 'mail.example.net', smtp_password: '' }).expect(200);
    expect(new Fernet(FERNET_KEY).decryptToString((await stored(p.id)).smtp_password_encrypted as string)).toBe('keep-me');
    const removed = await updateCredentials(p.id, { smtp_host: 'mail.example.net', smtp_password: null, smtp_username: null });
    expect(removed.status).toBe(200);
    expect(removed.body).toMatchObject({ has_smtp_password: false, smtp_username: null });
    expect((await stored(p.id)).smtp_password_encrypted).toBeNull();
  });

  it('should validate like create and change nothing when the input is bad', async () => {
    const p = await create();
    const before = await stored(p.id);
    const cases: [object, object][] = [
      [{ smtp_port: 70000 }, { smtp_port: ['Ensure this value is less than or equal to 65535.'] }],
      [{ smtp_host: 'bad host!' }, { smtp_host: ['Enter a valid hostname or IP address.'] }],
      [{ smtp_use_tls: 'maybe' }, { smtp_use_tls: ['Must be a valid boolean.'] }],
      [{ smtp_host: null }, { smtp_host: ['This field is required.'] }],
      [
        { smtp_use_tls: true, smtp_use_ssl: true, smtp_password: 'would-be-new' },
        { non_field_errors: ['smtp_use_tls (STARTTLS) and smtp_use_ssl (implicit TLS) cannot both be true.'] },
      ],
    ];
    for (const [body, errors] of cases) {
      const res = await updateCredentials(p.id, body);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(errors);
    }
    expect(await stored(p.id)).toEqual(before);
  });

  it('should answer 404 for an unknown or deleted provider and 403 for a read-only key', async () => {
    await updateCredentials(999_999, { smtp_host: 'x.example.com' }).expect(404, { detail: 'Not found.' });
    const p = await create();
    await request(t.server).delete(`${API}/providers/${p.id}/`).set(t.auth).expect(204);
    await updateCredentials(p.id, { smtp_host: 'x.example.com' }).expect(404);

    const key = (
      await request(t.server)
        .post(`${API}/api-keys/`)
        .set(t.auth)
        .send({ name: 'reader', scopes: ['providers:read'] })
    ).body.key;
    const live = await create();
    await request(t.server)
      .post(`${API}/providers/${live.id}/update_credentials/`)
      .set({ Authorization: `Bearer ${key}` })
      .send({ smtp_host: 'x.example.com' })
      .expect(403);
  });

  it('should also bump the credentials version when PATCH changes connection settings, and not otherwise', async () => {
    const p = await create();
    const v0 = (await stored(p.id)).credentials_version;
    await request(t.server).patch(`${API}/providers/${p.id}/`).set(t.auth).send({ daily_limit: 5 }).expect(200);
    expect((await stored(p.id)).credentials_version).toBe(v0);
    await request(t.server).patch(`${API}/providers/${p.id}/`).set(t.auth).send({ smtp_port: 2525 }).expect(200);
    expect((await stored(p.id)).credentials_version).toBe(v0 + 1);
  });

  it('should keep every password out of responses and log lines', async () => {
    const secret = 'Cred-Secret-Never-Logged-42';
    const p = await create();
    const res = await updateCredentials(p.id, { smtp_host: 'smtp.example.com', smtp_password: secret });
    expect(JSON.stringify(res.body)).not.toContain(secret);
    await updateCredentials(p.id, { smtp_host: 'smtp.example.com', smtp_password: secret, smtp_port: -1 }).expect(400);
    expect(t.logs.text()).toContain('update_credentials');
    expect(t.logs.text()).not.toContain(secret);
    expect(t.logs.text()).not.toMatch(/gAAAAA/);
  });
});
