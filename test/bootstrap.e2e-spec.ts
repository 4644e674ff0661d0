import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres.js';
import { ADMIN_KEY, API, startApp, type TestApp } from './support/app.js';
import { provisionDatabase, type TestDatabase } from './support/database.js';

const TOKEN = /epk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}/g;

/** Starts the app with stdout watched (and still written), and returns what it printed. */
async function startWatchingStdout(db: TestDatabase): Promise<{ app: TestApp; printed: string }> {
  const write = jest.spyOn(process.stdout, 'write');
  try {
    const app = await startApp({ db, env: { ADMIN_API_KEY: undefined } });
    return { app, printed: write.mock.calls.map(([chunk]) => String(chunk)).join('') };
  } finally {
    write.mockRestore();
  }
}

describe('First start without ADMIN_API_KEY', () => {
  let db: TestDatabase;
  let first: { app: TestApp; printed: string };
  let token: string;

  beforeAll(async () => {
    db = await provisionDatabase();
    first = await startWatchingStdout(db);
    token = (first.printed.match(TOKEN) ?? [])[0] ?? '';
  });
  afterAll(async () => {
    await first.app.close();
    await db.drop();
  });

  it('should print exactly one admin key to stdout when the database has no key', () => {
    expect(first.printed.match(TOKEN)).toHaveLength(1);
    expect(first.printed).toContain('shown only this once');
  });

  it('should accept the printed key as an admin bearer token', async () => {
    const auth = { Authorization: `Bearer ${token}` };
    const keys = await request(first.app.server).get(`${API}/api-keys/`).set(auth);
    expect(keys.status).toBe(200);
    expect(keys.body).toEqual([expect.objectContaining({ name: 'bootstrap-admin', scopes: ['admin'], prefix: token.slice(0, 12) })]);
    expect((await request(first.app.server).get(`${API}/providers/`).set(auth)).status).toBe(200);
  });

  it('should not accept the usual test ADMIN_API_KEY when it is unset', async () => {
    const res = await request(first.app.server).get(`${API}/providers/`).set('Authorization', `Bearer ${ADMIN_KEY}`);
    expect(res.status).toBe(401);
  });

  it('should keep the printed key out of the log lines', () => {
    const logs = first.app.logs.text();
    expect(logs).toContain(token.slice(0, 12)); // the prefix may be logged
    expect(logs).not.toContain(token);
    expect(logs).not.toContain(token.slice(13));
  });
});

describe('Another start on a database that already has a key', () => {
  let db: TestDatabase;
  let first: { app: TestApp; printed: string };
  let firstOpen = true;

  beforeAll(async () => {
    db = await provisionDatabase();
    first = await startWatchingStdout(db);
  });
  afterAll(async () => {
    if (firstOpen) await first.app.close();
    await db.drop();
  });

  it('should neither create nor print another key when a second instance starts on the same database', async () => {
    const token = (first.printed.match(TOKEN) ?? [])[0];
    expect(token).toBeDefined();
    // Embedded PGlite serves one process (DATA_DIR is locked), so there the second start is a restart.
    if (!db.server) {
      firstOpen = false;
      await first.app.close();
    }
    const second = await startWatchingStdout(db);
    try {
      expect(second.printed).not.toMatch(TOKEN);
      expect(second.printed).not.toContain('shown only this once');
      const keys = await request(second.app.server).get(`${API}/api-keys/`).set('Authorization', `Bearer ${token}`);
      expect(keys.status).toBe(200);
      expect(keys.body).toHaveLength(1);
      expect(second.app.logs.text()).not.toContain(token);
      if (db.server) {
        // Both instances are up: the first still answers with the same single key.
        const fromFirst = await request(first.app.server).get(`${API}/api-keys/`).set('Authorization', `Bearer ${token}`);
        // last_used_at is recorded after a request is answered, so the two may differ there.
        const withoutUse = (body: Record<string, unknown>[]) => body.map(({ last_used_at: _, ...key }) => key);
        expect(withoutUse(fromFirst.body)).toEqual(withoutUse(keys.body));
      }
    } finally {
      await second.app.close();
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
