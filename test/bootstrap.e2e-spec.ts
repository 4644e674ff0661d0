import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres.js';
import { ADMIN_KEY, API, startApp, type TestApp } from './support/app.js';
import { provisionDatabase, type TestDatabase } from './support/database.js';
import { startServiceProcess, type ServiceProcess } from './support/service-process.js';

const TOKEN = /epk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}/g;

const keyFile = (db: TestDatabase) => path.join(db.env.DATA_DIR as string, 'admin-api-key');
const readKeyFile = (db: TestDatabase) => fs.readFileSync(keyFile(db), 'utf8').trim();

describe('First start without ADMIN_API_KEY', () => {
  let db: TestDatabase;
  let first: TestApp;
  let token: string;

  beforeAll(async () => {
    db = await provisionDatabase();
    first = await startApp({ db, env: { ADMIN_API_KEY: undefined } });
    token = readKeyFile(db);
  });
  afterAll(async () => {
    await first.app.close();
    await db.drop();
  });

  it('should write exactly one admin key to DATA_DIR/admin-api-key, readable only by its owner', () => {
    expect(token.match(TOKEN)).toEqual([token]);
    expect(fs.statSync(keyFile(db)).mode & 0o777).toBe(0o600);
  });

  it('should accept the key from the file as an admin bearer token', async () => {
    const auth = { Authorization: `Bearer ${token}` };
    const keys = await request(first.server).get(`${API}/api-keys/`).set(auth);
    expect(keys.status).toBe(200);
    expect(keys.body).toEqual([expect.objectContaining({ name: 'bootstrap-admin', scopes: ['admin'], prefix: token.slice(0, 12) })]);
    expect((await request(first.server).get(`${API}/providers/`).set(auth)).status).toBe(200);
  });

  it('should not accept the usual test ADMIN_API_KEY when it is unset', async () => {
    const res = await request(first.server).get(`${API}/providers/`).set('Authorization', `Bearer ${ADMIN_KEY}`);
    expect(res.status).toBe(401);
  });

  it('should log where the key is, and never the key', () => {
    const logs = first.logs.text();
    expect(logs).toContain(keyFile(db));
    expect(logs).toContain(token.slice(0, 12)); // the prefix may be logged
    expect(logs).not.toContain(token);
    expect(logs).not.toContain(token.slice(13));
  });
});

describe('First start of the built service with stdout and stderr not a terminal', () => {
  let db: TestDatabase;
  let service: ServiceProcess;

  beforeAll(async () => {
    db = await provisionDatabase();
    service = await startServiceProcess({ ...db.env, ADMIN_API_KEY: undefined, LOG_LEVEL: 'info' });
  });
  afterAll(async () => {
    await service?.stop('SIGTERM');
    await db.drop();
  });

  it('should keep the key in DATA_DIR/admin-api-key (mode 0600) and out of everything it wrote', async () => {
    const token = readKeyFile(db);
    expect(token).toMatch(new RegExp(`^${TOKEN.source}$`));
    expect(fs.statSync(keyFile(db)).mode & 0o777).toBe(0o600);

    const res = await fetch(`${service.url}${API}/api-keys/`, { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([expect.objectContaining({ name: 'bootstrap-admin', scopes: ['admin'] })]);

    const output = service.output();
    expect(output).toContain(`read it from ${keyFile(db)}`);
    expect(output).not.toMatch(TOKEN);
    expect(output).not.toContain(token.slice(13));
  });
});

describe('Another start on a database that already has a key', () => {
  let db: TestDatabase;
  let first: TestApp;
  let firstOpen = true;

  beforeAll(async () => {
    db = await provisionDatabase();
    first = await startApp({ db, env: { ADMIN_API_KEY: undefined } });
  });
  afterAll(async () => {
    if (firstOpen) await first.app.close();
    await db.drop();
  });

  it('should neither create another key nor touch the key file when a second instance starts on the same database', async () => {
    const token = readKeyFile(db);
    const written = fs.statSync(keyFile(db)).mtimeMs;
    // Embedded PGlite serves one process (DATA_DIR is locked), so there the second start is a restart.
    if (!db.server) {
      firstOpen = false;
      await first.app.close();
    }
    const second = await startApp({ db, env: { ADMIN_API_KEY: undefined } });
    try {
      expect(readKeyFile(db)).toBe(token);
      expect(fs.statSync(keyFile(db)).mtimeMs).toBe(written);
      const keys = await request(second.server).get(`${API}/api-keys/`).set('Authorization', `Bearer ${token}`);
      expect(keys.status).toBe(200);
      expect(keys.body).toHaveLength(1);
      expect(second.logs.text()).not.toContain(token);
      if (db.server) {
        // Both instances are up: the first still answers with the same single key.
        const fromFirst = await request(first.server).get(`${API}/api-keys/`).set('Authorization', `Bearer ${token}`);
        // last_used_at is recorded after a request is answered, so the two may differ there.
        const withoutUse = (body: Record<string, unknown>[]) => body.map(({ last_used_at: _, ...key }) => key);
        expect(withoutUse(fromFirst.body)).toEqual(withoutUse(keys.body));
      }
    } finally {
      await second.app.close();
    }
  });
});

describe('First start when DATA_DIR cannot take the key file', () => {
  it('should refuse to start, saying why, and leave no key behind that nobody knows', async () => {
    const db = await provisionDatabase();
    const dataDir = db.env.DATA_DIR as string;
    fs.mkdirSync(path.join(dataDir, 'admin-api-key'), { recursive: true }); // a folder where the file should go
    try {
      const env = { ...db.env, ADMIN_API_KEY: undefined };
      // Stopped if it does start, so a failing test leaves no process behind.
      const refused = await startServiceProcess(env).then(
        async (started) => (await started.stop(), null),
        (err: Error) => err,
      );
      expect(refused?.message).toMatch(
        /Failed to start: cannot write the bootstrap admin API key under DATA_DIR .*EISDIR.*Make DATA_DIR writable, or set ADMIN_API_KEY/,
      );
      // The insert was rolled back: once the folder is fixed, the next start makes the key.
      fs.rmSync(path.join(dataDir, 'admin-api-key'), { recursive: true });
      const service = await startServiceProcess(env);
      try {
        const res = await fetch(`${service.url}${API}/api-keys/`, { headers: { Authorization: `Bearer ${readKeyFile(db)}` } });
        expect(res.status).toBe(200);
        expect(await res.json()).toHaveLength(1);
      } finally {
        await service.stop('SIGTERM');
      }
    } finally {
      await db.drop();
    }
  });
});

describe(startEmbeddedPostgres.name, () => {
  it('should refuse a second start on the same folder with an error naming DATA_DIR', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ept-lock-'));
    const first = await startEmbeddedPostgres(dir, 2);
    try {
      await expect(startEmbeddedPostgres(dir, 2)).rejects.toThrow(/DATA_DIR/);
    } finally {
      await first.stop();
    }
    // The lock goes with the instance that held it.
    const again = await startEmbeddedPostgres(dir, 2);
    await again.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
