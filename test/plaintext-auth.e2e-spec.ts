import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { Fernet } from '../src/credentials/fernet.js';
import { API, FERNET_KEY, startApp, type TestApp } from './support/app.js';
import { runCli } from './support/cli.js';
import { provisionDatabase, type TestDatabase } from './support/database.js';
import { smtpProviderBody } from './support/factories.js';
import { deactivateAllProviders, fastSendingEnv, providerFor, type MessageBody } from './support/sending.js';
import { smtpServers, type TestSmtpServer } from './support/smtp-server.js';

const RULE = 'An SMTP password is sent only over TLS: set smtp_use_tls (STARTTLS) or smtp_use_ssl (implicit TLS), or remove smtp_password.';
const CODE = 'EPLAINTEXT_AUTH';
const PLAIN = { smtp_use_tls: false, smtp_use_ssl: false };

type Provider = { id: number; name: string; has_smtp_password: boolean; smtp_use_tls: boolean; smtp_use_ssl: boolean };

describe('No plaintext AUTH: a password only goes over TLS (issue #11, part 3)', () => {
  let t: TestApp;
  const servers = smtpServers();
  const api = () => request(t.server);
  const create = (overrides: Record<string, unknown>) => api().post(`${API}/providers/`).set(t.auth).send(smtpProviderBody(overrides));
  const created = async (overrides: Record<string, unknown>) => {
    const res = await create(overrides);
    expect(res.status).toBe(201);
    return res.body as Provider;
  };
  const get = async (id: number) => (await api().get(`${API}/providers/${id}/`).set(t.auth).expect(200)).body as Provider;

  beforeAll(async () => {
    t = await startApp({ env: { ...fastSendingEnv(), SMTP_ALLOW_PLAINTEXT_AUTH: undefined } });
  });
  afterEach(async () => {
    await servers.closeAll();
  });
  afterAll(async () => {
    await t.close();
  });

  describe('when saved', () => {
    it('should refuse to create a provider with a password and neither TLS flag', async () => {
      const body = smtpProviderBody(PLAIN);
      const res = await api().post(`${API}/providers/`).set(t.auth).send(body);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ non_field_errors: [RULE] });
      const all = (await api().get(`${API}/providers/`).set(t.auth).expect(200)).body as Provider[];
      expect(all.map((p) => p.name)).not.toContain(body.name);
    });

    it('should allow a provider without a password on a plain connection, and one with a password over either TLS', async () => {
      expect(await created({ ...PLAIN, smtp_password: '' })).toMatchObject({ has_smtp_password: false, ...PLAIN });
      expect(await created({ ...PLAIN, smtp_password: undefined, smtp_username: '' })).toMatchObject({ has_smtp_password: false });
      expect(await created({ smtp_use_tls: true, smtp_use_ssl: false })).toMatchObject({ has_smtp_password: true });
      expect(await created({ smtp_use_tls: false, smtp_use_ssl: true })).toMatchObject({ has_smtp_password: true });
    });

    it.each<[string, Record<string, unknown>, 'put' | 'patch', Record<string, unknown>]>([
      ['PATCH turns STARTTLS off under a stored password', { smtp_use_tls: true }, 'patch', { smtp_use_tls: false }],
      [
        'PATCH turns implicit TLS off under a stored password',
        { smtp_use_tls: false, smtp_use_ssl: true },
        'patch',
        { smtp_use_ssl: false },
      ],
      ['PATCH adds a password to a plain provider', { ...PLAIN, smtp_password: '' }, 'patch', { smtp_password: 'now-a-secret' }],
      ['PUT turns both TLS flags off', { smtp_use_tls: true }, 'put', { ...smtpProviderBody(PLAIN), smtp_password: '' }],
      ['PUT gives a password without TLS', { ...PLAIN, smtp_password: '' }, 'put', smtpProviderBody(PLAIN)],
    ])('should answer 400 and leave the row as it was when %s', async (_, initial, method, change) => {
      const before = await created(initial);
      const res = await api()[method](`${API}/providers/${before.id}/`).set(t.auth).send(change);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ non_field_errors: [RULE] });
      expect(await get(before.id)).toEqual(before);
    });

    it('should allow an update that switches from STARTTLS to implicit TLS, or drops TLS along with the password', async () => {
      const p = await created({ smtp_use_tls: true });
      await api().patch(`${API}/providers/${p.id}/`).set(t.auth).send({ smtp_use_tls: false, smtp_use_ssl: true }).expect(200);
      const res = await api()
        .post(`${API}/providers/${p.id}/update_credentials/`)
        .set(t.auth)
        .send({ ...PLAIN, smtp_password: null });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ has_smtp_password: false, ...PLAIN });
    });

    it('should refuse update_credentials that would leave a password without TLS', async () => {
      const withPassword = await created({ smtp_use_tls: true });
      const credentials = (id: number, body: object) => api().post(`${API}/providers/${id}/update_credentials/`).set(t.auth).send(body);
      // The stored password stays when smtp_password is left out or blank, so it is judged too.
      for (const body of [
        { smtp_host: 'mail.example.net', ...PLAIN },
        { ...PLAIN, smtp_password: '' },
      ]) {
        const res = await credentials(withPassword.id, body);
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ non_field_errors: [RULE] });
      }
      const plain = await created({ ...PLAIN, smtp_password: '' });
      const res = await credentials(plain.id, { smtp_host: 'mail.example.net', smtp_password: 'a-new-secret' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ non_field_errors: [RULE] });
      expect(await get(withPassword.id)).toEqual(withPassword);
      expect(await get(plain.id)).toEqual(plain);
    });
  });

  describe('a provider stored with a password and no TLS (written before the rule)', () => {
    const SECRET = 'stored-before-the-rule-77';
    let sink: TestSmtpServer;
    let stored: Provider;

    beforeEach(async () => {
      await deactivateAllProviders(t);
      // A plain server that would take AUTH PLAIN in clear, and records every AUTH it is given.
      sink = await servers.start({ auth: { user: 'legacy', pass: SECRET } });
      stored = (await providerFor(t, sink, { priority: 1 })) as Provider;
      await t.app.get(DataSource).query(
        `UPDATE providers SET smtp_username = 'legacy', smtp_password_encrypted = $2, has_smtp_password = true,
             credentials_version = credentials_version + 1 WHERE id = $1`,
        [stored.id, new Fernet(FERNET_KEY).encrypt(SECRET)],
      );
    });

    const nothingSent = () => {
      expect(sink.connections).toBe(0);
      expect(sink.authAttempts).toEqual([]);
      expect(t.logs.text()).not.toContain(SECRET);
    };

    it('should fail the health check with EPLAINTEXT_AUTH without connecting', async () => {
      const res = await api().post(`${API}/providers/${stored.id}/health_check/`).set(t.auth);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ is_healthy: false, health_status: 'unhealthy' });
      expect(res.body.error).toContain(CODE);
      const history = (await api().get(`${API}/providers/${stored.id}/health_history/`).set(t.auth).expect(200)).body;
      expect(history.results[0]).toMatchObject({ healthy: false, error_class: CODE });
      expect(JSON.stringify([res.body, history])).not.toContain(SECRET);
      nothingSent();
    });

    it('should fail a test send with EPLAINTEXT_AUTH without connecting', async () => {
      const res = await api().post(`${API}/providers/${stored.id}/test/`).set(t.auth).send({ test_email: 'ops@example.com' });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ success: false, error: expect.stringContaining(CODE) });
      expect(JSON.stringify(res.body)).not.toContain(SECRET);
      nothingSent();
    });

    it('should fail over from it on a send, and deliver through a provider without a password', async () => {
      const relay = await servers.start();
      const fallback = await providerFor(t, relay, { priority: 2 });
      const res = await api().post(`${API}/send/`).set(t.auth).send({ to: 'alice@example.com', subject: 'Hi', text: 'Body', wait: true });
      expect(res.status).toBe(200);
      const body = res.body as MessageBody;
      expect(body.provider_id).toBe(fallback.id);
      expect(body.attempts?.[0]).toMatchObject({ provider_id: stored.id, outcome: 'provider_failure', error_class: CODE });
      expect(JSON.stringify(body)).not.toContain(SECRET);
      expect(relay.received).toHaveLength(1);
      expect(relay.received[0].user).toBeNull();
      nothingSent();
    });

    it('should refuse an update that keeps it that way, and take one that turns TLS on', async () => {
      const rename = await api()
        .patch(`${API}/providers/${stored.id}/`)
        .set(t.auth)
        .send({ name: `${stored.name} renamed` });
      expect(rename.status).toBe(400);
      expect(rename.body).toEqual({ non_field_errors: [RULE] });
      await api().patch(`${API}/providers/${stored.id}/`).set(t.auth).send({ smtp_use_tls: true }).expect(200);
    });
  });
});

describe('SMTP_ALLOW_PLAINTEXT_AUTH=true: the operator accepts AUTH in clear', () => {
  let t: TestApp;
  const servers = smtpServers();

  beforeAll(async () => {
    t = await startApp({ env: fastSendingEnv({ SMTP_ALLOW_PLAINTEXT_AUTH: 'true' }) });
  });
  afterEach(async () => {
    await servers.closeAll();
  });
  afterAll(async () => {
    await t.close();
  });

  it('should save a provider with a password and no TLS, check it and send through it with AUTH in clear', async () => {
    const sink = await servers.start({ auth: { user: 'inside', pass: 'lan-only-pass' } });
    const p = await providerFor(t, sink, { smtp_username: 'inside', smtp_password: 'lan-only-pass' });
    const check = await request(t.server).post(`${API}/providers/${p.id}/health_check/`).set(t.auth).expect(200);
    expect(check.body).toMatchObject({ is_healthy: true, error: null });
    await request(t.server).post(`${API}/providers/${p.id}/test/`).set(t.auth).send({ test_email: 'ops@example.com' }).expect(200);
    expect(sink.authAttempts).toEqual([
      { method: 'PLAIN', username: 'inside' },
      { method: 'PLAIN', username: 'inside' },
    ]);
    expect(sink.received[0]).toMatchObject({ user: 'inside', secure: false });
  });
});

describe('providers:import (CLI) applies the same rule', () => {
  let db: TestDatabase;
  let file: string;

  beforeAll(async () => {
    db = await provisionDatabase();
    file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'import-')), 'providers.json');
    const records = [
      smtpProviderBody({ name: 'Password in clear', ...PLAIN }),
      {
        ...smtpProviderBody({ name: 'Sealed password in clear', ...PLAIN }),
        smtp_password: undefined,
        smtp_password_encrypted: new Fernet(FERNET_KEY).encrypt('sealed-pw'),
      },
      smtpProviderBody({ name: 'Relay by address', ...PLAIN, smtp_username: '', smtp_password: '' }),
      smtpProviderBody({ name: 'Password over TLS', smtp_use_tls: true }),
    ];
    fs.writeFileSync(file, JSON.stringify(records));
  });
  afterAll(async () => {
    await db.drop();
  });

  it('should reject a password without TLS, unless SMTP_ALLOW_PLAINTEXT_AUTH=true', async () => {
    const env = { ...db.env, FERNET_KEYS: FERNET_KEY, SMTP_ALLOW_PLAINTEXT_AUTH: undefined };
    const first = await runCli(['providers:import', file], env);
    expect(first.code).toBe(2);
    expect(first.stdout).toContain(`rejected #0 "Password in clear": ${JSON.stringify({ non_field_errors: [RULE] })}`);
    expect(first.stdout).toContain(`rejected #1 "Sealed password in clear": ${JSON.stringify({ non_field_errors: [RULE] })}`);
    expect(first.stdout).toContain('created  #2 "Relay by address"');
    expect(first.stdout).toContain('created  #3 "Password over TLS"');

    const allowed = await runCli(['providers:import', file], { ...env, SMTP_ALLOW_PLAINTEXT_AUTH: 'true' });
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toContain('created  #0 "Password in clear"');
    expect(allowed.stdout).toContain('created  #1 "Sealed password in clear"');
    expect(allowed.stdout).toContain('2 created, 2 skipped, 0 rejected');
  });
});
