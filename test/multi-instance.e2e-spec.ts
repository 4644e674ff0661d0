import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { API, startApp, type TestApp } from './support/app.js';
import { baseDatabaseUrl, provisionDatabase, type TestDatabase } from './support/database.js';
import { smtpProviderBody } from './support/factories.js';

const DUPLICATE_NAME = { name: ['email provider with this name already exists.'] };

describe('Several instances on one database', () => {
  if (!baseDatabaseUrl()) {
    // Without a PostgreSQL server the database is PGlite inside one process: a second instance
    // must refuse the DATA_DIR rather than share it (FINDINGS.md: shared folders lose writes).
    it('should refuse a second instance on the same DATA_DIR when the database is embedded', async () => {
      const db = await provisionDatabase();
      const first = await startApp({ db });
      try {
        await expect(startApp({ db })).rejects.toThrow(/DATA_DIR/);
        expect((await request(first.server).get(`${API}/providers/`).set(first.auth)).status).toBe(200);
      } finally {
        await first.close();
        await db.drop();
      }
    });
    return;
  }

  let db: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  /** Alternates requests between the two instances. */
  const instance = (i: number) => (i % 2 === 0 ? a : b);
  const create = async (on: TestApp, overrides: Record<string, unknown> = {}) => {
    const res = await request(on.server).post(`${API}/providers/`).set(on.auth).send(smtpProviderBody(overrides));
    expect(res.status).toBe(201);
    return res.body as { id: number; name: string };
  };
  const defaults = async (on: TestApp) =>
    ((await request(on.server).get(`${API}/providers/`).set(on.auth)).body as { id: number; is_default: boolean }[])
      .filter((p) => p.is_default)
      .map((p) => p.id);

  beforeAll(async () => {
    db = await provisionDatabase();
    // Started together, as a rolling deploy would: the migrations must run once between them.
    [a, b] = await Promise.all([startApp({ db }), startApp({ db })]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await db.drop();
  });

  it('should see the same rows from both instances when one of them writes', async () => {
    const created = await create(a);
    const res = await request(b.server).get(`${API}/providers/${created.id}/`).set(b.auth);
    expect(res.status).toBe(200);
    expect(res.body.name).toBe(created.name);
  });

  it('should end with exactly one default when both instances set it concurrently', async () => {
    const providers = await Promise.all(Array.from({ length: 10 }, (_, i) => create(instance(i))));
    const results = await Promise.all(
      providers.map((p, i) =>
        request(instance(i).server).patch(`${API}/providers/${p.id}/`).set(instance(i).auth).send({ is_default: true }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(providers.map(() => 200));
    const [fromA, fromB] = await Promise.all([defaults(a), defaults(b)]);
    expect(fromA).toHaveLength(1);
    expect(fromB).toEqual(fromA);
    expect(providers.map((p) => p.id)).toContain(fromA[0]);
  });

  it('should end with exactly one default when both instances create defaults concurrently', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        request(instance(i).server)
          .post(`${API}/providers/`)
          .set(instance(i).auth)
          .send(smtpProviderBody({ is_default: true })),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(results.map(() => 201));
    const [fromA, fromB] = await Promise.all([defaults(a), defaults(b)]);
    expect(fromA).toHaveLength(1);
    expect(fromB).toEqual(fromA);
  });

  it('should create one provider and reject the rest when both instances create the same name concurrently', async () => {
    const name = `Contested ${Date.now()}`;
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        request(instance(i).server).post(`${API}/providers/`).set(instance(i).auth).send(smtpProviderBody({ name })),
      ),
    );
    const created = results.filter((r) => r.status === 201);
    const rejected = results.filter((r) => r.status !== 201);
    expect(created).toHaveLength(1);
    expect(rejected).toHaveLength(9);
    for (const res of rejected) {
      expect(res.status).toBe(400);
      expect(res.body).toEqual(DUPLICATE_NAME);
    }
    for (const on of [a, b]) {
      const names = ((await request(on.server).get(`${API}/providers/`).set(on.auth)).body as { name: string }[]).filter(
        (p) => p.name === name,
      );
      expect(names).toHaveLength(1);
    }
  });
});
