import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { deriveDjangoFernetKey } from '../src/credentials/django-key.js';
import { Fernet } from '../src/credentials/fernet.js';
import { API, startApp } from './support/app.js';
import { runCli } from './support/cli.js';
import { provisionDatabase, type TestDatabase } from './support/database.js';
import { smtpProviderBody } from './support/factories.js';

const OLD_KEY = Fernet.generateKey();
const NEW_KEY = Fernet.generateKey();
const DJANGO_SECRET = 'django-insecure-0ld-deployment-secret-key';
const DJANGO_KEY = deriveDjangoFernetKey(DJANGO_SECRET);
// AWS's documentation example key, and its SES SMTP password for us-east-2 as the AWS SDK for PHP's tests have it.
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const SES_SMTP_PASSWORD_US_EAST_2 = 'BMPPgbAHoFVbze1Ud0oA5uNdXRwUXUZ+qOwphGJbl/cS';

/** A token as the old Django deployment wrote it: Python's cryptography, with the derived key. */
function pythonToken(key: string, plaintext: string): string {
  const script =
    'import sys\nfrom cryptography.fernet import Fernet\nprint(Fernet(sys.argv[1].encode()).encrypt(sys.stdin.read().encode()).decode())';
  return execFileSync('/usr/bin/python3', ['-I', '-c', script, key], { input: plaintext }).toString().trim();
}

type SecretRow = { id: number; name: string; smtp_password_encrypted: string | null };

/**
 * The CLI runs beside the database, as an operator would run it. In embedded mode the app holds
 * DATA_DIR while it runs, so each step closes the app before the CLI and reopens it after.
 */
describe('CLI: credentials:rotate, providers:import, credentials:django-key, credentials:ses-smtp-password, api-keys:create', () => {
  let db: TestDatabase;
  const withApp = async <T>(fernetKeys: string, work: (ctx: Awaited<ReturnType<typeof startApp>>) => Promise<T>): Promise<T> => {
    const t = await startApp({ db, env: { FERNET_KEYS: fernetKeys } });
    try {
      return await work(t);
    } finally {
      await t.close();
    }
  };
  const rows = (fernetKeys: string) =>
    withApp(
      fernetKeys,
      async (t) =>
        (await t.app.get(DataSource).query('SELECT id, name, smtp_password_encrypted FROM providers ORDER BY id')) as SecretRow[],
    );
  const cli = (args: string[], fernetKeys: string, input?: string) => runCli(args, { ...db.env, FERNET_KEYS: fernetKeys }, input);

  beforeAll(async () => {
    db = await provisionDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('should re-encrypt only rows not under the primary key, one by one, and be safe to run again', async () => {
    const passwords = new Map<string, string>();
    const createSome = (keys: string, n: number) =>
      withApp(keys, async (t) => {
        for (let i = 0; i < n; i++) {
          const body = smtpProviderBody();
          passwords.set(body.name as string, body.smtp_password as string);
          await request(t.server).post(`${API}/providers/`).set(t.auth).send(body).expect(201);
        }
      });
    await createSome(OLD_KEY, 3);
    // As if an earlier rotation had been interrupted: some rows are already under the new key.
    await createSome(`${NEW_KEY},${OLD_KEY}`, 2);
    const deleted = await withApp(OLD_KEY, async (t) => {
      const body = smtpProviderBody();
      passwords.set(body.name as string, body.smtp_password as string);
      const { id } = (await request(t.server).post(`${API}/providers/`).set(t.auth).send(body)).body as { id: number };
      await request(t.server).delete(`${API}/providers/${id}/`).set(t.auth).expect(204);
      return id;
    });

    const first = await cli(['credentials:rotate'], `${NEW_KEY},${OLD_KEY}`);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('Re-encrypted 4 row(s) under the primary key; 6 row(s) hold secrets.');

    const again = await cli(['credentials:rotate'], `${NEW_KEY},${OLD_KEY}`);
    expect(again.stdout).toContain('Re-encrypted 0 row(s)');

    const after = await rows(NEW_KEY);
    expect(after.map((r) => r.id)).toContain(deleted);
    for (const row of after) {
      expect(new Fernet(NEW_KEY).decryptToString(row.smtp_password_encrypted as string)).toBe(passwords.get(row.name));
      expect(() => new Fernet(OLD_KEY).decrypt(row.smtp_password_encrypted as string)).toThrow();
    }
    for (const out of [first.stdout, again.stdout, first.stderr]) for (const pw of passwords.values()) expect(out).not.toContain(pw);
  });

  it('should re-encrypt webhook signing secrets too, the previous one of a rotation included', async () => {
    const { id, secrets } = await withApp(OLD_KEY, async (t) => {
      const created = await request(t.server)
        .post(`${API}/webhooks/`)
        .set(t.auth)
        .send({ url: 'https://hooks.example.com/x', events: ['*'] });
      expect(created.status).toBe(201);
      const rotated = await request(t.server).post(`${API}/webhooks/${created.body.id}/rotate_secret/`).set(t.auth).expect(200);
      return { id: created.body.id as number, secrets: [rotated.body.secret as string, created.body.secret as string] };
    });
    const run = await cli(['credentials:rotate'], `${NEW_KEY},${OLD_KEY}`);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Re-encrypted [1-9]\d* row\(s\)/);
    const [row] = await withApp(
      NEW_KEY,
      async (t) =>
        (await t.app.get(DataSource).query('SELECT secret_encrypted, previous_secret_encrypted FROM webhooks WHERE id = $1', [id])) as {
          secret_encrypted: string;
          previous_secret_encrypted: string;
        }[],
    );
    expect(new Fernet(NEW_KEY).decryptToString(row.secret_encrypted)).toBe(secrets[0]);
    expect(new Fernet(NEW_KEY).decryptToString(row.previous_secret_encrypted)).toBe(secrets[1]);
    expect(() => new Fernet(OLD_KEY).decrypt(row.secret_encrypted)).toThrow();
    for (const secret of secrets) expect(run.stdout + run.stderr).not.toContain(secret);
  });

  it('should import plain and Django-encrypted passwords, reject what no key opens, and skip what exists', async () => {
    const djangoToken = pythonToken(DJANGO_KEY, 'password-from-django');
    const strangerToken = pythonToken(Fernet.generateKey(), 'nobody-can-read-this');
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'import-')), 'providers.json');
    const records = [
      smtpProviderBody({ name: 'Imported plain', smtp_password: 'plain-imported-pw' }),
      { ...smtpProviderBody({ name: 'Imported from Django' }), smtp_password: undefined, smtp_password_encrypted: djangoToken },
      { ...smtpProviderBody({ name: 'Unreadable token' }), smtp_password: undefined, smtp_password_encrypted: strangerToken },
      smtpProviderBody({ name: 'Bad port', smtp_port: 70000 }),
      'not an object',
    ];
    fs.writeFileSync(file, JSON.stringify(records));
    const keys = `${NEW_KEY},${DJANGO_KEY}`;

    const first = await cli(['providers:import', file], keys);
    expect(first.code).toBe(2);
    expect(first.stdout).toContain('created  #0 "Imported plain"');
    expect(first.stdout).toContain('created  #1 "Imported from Django"');
    expect(first.stdout).toContain(
      'rejected #2 "Unreadable token": {"smtp_password_encrypted":["No key in FERNET_KEYS opens this token."]}',
    );
    expect(first.stdout).toContain('rejected #3 "Bad port": {"smtp_port":["Ensure this value is less than or equal to 65535."]}');
    expect(first.stdout).toContain('rejected #4 "(no name)"');
    expect(first.stdout).toContain('2 created, 0 skipped, 3 rejected');
    for (const secret of ['plain-imported-pw', 'password-from-django', 'nobody-can-read-this', djangoToken, strangerToken])
      expect(first.stdout + first.stderr).not.toContain(secret);

    const second = await cli(['providers:import', file], keys);
    expect(second.stdout).toContain('skipped  #0 "Imported plain": a provider with this name exists');
    expect(second.stdout).toContain('skipped  #1 "Imported from Django"');
    expect(second.stdout).toContain('0 created, 2 skipped, 3 rejected');

    const imported = (await rows(keys)).filter((r) => r.name.startsWith('Imported'));
    expect(imported).toHaveLength(2);
    const django = imported.find((r) => r.name === 'Imported from Django') as SecretRow;
    expect(django.smtp_password_encrypted).toBe(djangoToken); // kept as it was
    const plain = imported.find((r) => r.name === 'Imported plain') as SecretRow;
    expect(new Fernet(NEW_KEY).decryptToString(plain.smtp_password_encrypted as string)).toBe('plain-imported-pw');

    // After rotation the Django key can leave FERNET_KEYS.
    expect((await cli(['credentials:rotate'], keys)).code).toBe(0);
    const rotated = (await rows(NEW_KEY)).find((r) => r.name === 'Imported from Django') as SecretRow;
    expect(new Fernet(NEW_KEY).decryptToString(rotated.smtp_password_encrypted as string)).toBe('password-from-django');
  });

  it('should fail clearly, without quoting the file, when the import file is not a JSON array', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'import-'));
    fs.writeFileSync(path.join(dir, 'broken.json'), '[{"smtp_password": "leaky-secret"');
    const broken = await cli(['providers:import', path.join(dir, 'broken.json')], NEW_KEY);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('not valid JSON');
    expect(broken.stderr).not.toContain('leaky-secret');
    fs.writeFileSync(path.join(dir, 'object.json'), '{"name": "x"}');
    const object = await cli(['providers:import', path.join(dir, 'object.json')], NEW_KEY);
    expect(object.code).toBe(1);
    expect(object.stderr).toContain('must hold a JSON array');
  });

  it('should print the key django-fernet-fields derives from a SECRET_KEY given on stdin', async () => {
    const res = await cli(['credentials:django-key'], NEW_KEY, `${DJANGO_SECRET}\n`);
    expect(res.code).toBe(0);
    expect(res.stdout.trim()).toBe(DJANGO_KEY);
    expect(new Fernet(res.stdout.trim()).decryptToString(pythonToken(DJANGO_KEY, 'x'))).toBe('x');
  });

  it('should print only the SES SMTP password for the secret key on stdin, and refuse a missing or bad --region', async () => {
    const ok = await cli(['credentials:ses-smtp-password', '--region', 'us-east-2'], NEW_KEY, `${AWS_SECRET}\n`);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe(`${SES_SMTP_PASSWORD_US_EAST_2}\n`);

    // The password is region-specific.
    const elsewhere = await cli(['credentials:ses-smtp-password', '--region=eu-central-1'], NEW_KEY, AWS_SECRET);
    expect(elsewhere.code).toBe(0);
    expect(elsewhere.stdout.trim()).toMatch(/^[A-Za-z0-9+/]{43}[A-Za-z0-9+/=]$/);
    expect(elsewhere.stdout.trim()).not.toBe(SES_SMTP_PASSWORD_US_EAST_2);

    const bad = await cli(['credentials:ses-smtp-password', '--region', 'us-east-2.evil.example'], NEW_KEY, `${AWS_SECRET}\n`);
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain('--region must be an AWS region name');

    const missing = await cli(['credentials:ses-smtp-password'], NEW_KEY, `${AWS_SECRET}\n`);
    expect(missing.code).not.toBe(0);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toContain("required option '--region <region>' not specified");

    const empty = await cli(['credentials:ses-smtp-password', '--region', 'us-east-2'], NEW_KEY, '');
    expect(empty.code).not.toBe(0);
    expect(empty.stderr).toContain('secret access key on standard input');

    for (const res of [ok, elsewhere, bad, missing, empty]) expect(res.stdout + res.stderr).not.toContain(AWS_SECRET);
  });

  it('should create an API key, print its token once on stdout, and refuse unknown scopes', async () => {
    // Without ADMIN_API_KEY, as on a fresh install: the CLI makes only the key asked for, no bootstrap key.
    const create = (args: string[]) => runCli(['api-keys:create', ...args], { ...db.env, FERNET_KEYS: NEW_KEY, ADMIN_API_KEY: undefined });
    const made = await create(['--name', 'nightly-report', '--scopes', 'providers:read, send']);
    expect(made.code).toBe(0);
    expect(made.stdout).toMatch(/^epk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}\n$/);
    const token = made.stdout.trim();
    expect(made.stderr).toContain(`"nightly-report" (${token.slice(0, 12)}, scopes providers:read, send)`);
    expect(made.stderr).toContain('shown only this once');
    expect(made.stderr).not.toContain(token);
    expect(fs.existsSync(path.join(db.env.DATA_DIR as string, 'admin-api-key'))).toBe(false);

    const unknown = await create(['--name', 'too-much', '--scopes', 'send,root']);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toContain(
      '--scopes: "root" is not a known scope; known scopes: providers:read, providers:write, send, metrics, webhooks, admin',
    );
    const missing = await create(['--name', 'no-scopes']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("required option '--scopes <scopes>' not specified");
    const blank = await create(['--name', ' ', '--scopes', 'send']);
    expect(blank.code).toBe(1);
    expect(blank.stderr).toContain('--name must not be blank');

    await withApp(NEW_KEY, async (t) => {
      const bearer = { Authorization: `Bearer ${token}` };
      expect((await request(t.server).get(`${API}/providers/`).set(bearer)).status).toBe(200);
      expect((await request(t.server).get(`${API}/api-keys/`).set(bearer)).status).toBe(403);
      const keys = (await request(t.server).get(`${API}/api-keys/`).set(t.auth)).body as { name: string; scopes: string[] }[];
      expect(keys.map((k) => [k.name, k.scopes])).toEqual([['nightly-report', ['providers:read', 'send']]]);
      expect(t.logs.text()).not.toContain(token);
    });
  });
});
