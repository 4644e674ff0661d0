import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { API, startApp, type TestApp } from './support/app.js';

// supertest connects from 127.0.0.1; other client addresses come through X-Forwarded-For,
// which only a TRUST_PROXY that trusts 127.0.0.1 lets count.
const BAD = { Authorization: 'Bearer epk_0123abcd_' + 'x'.repeat(43) };

const get = (t: TestApp, headers: Record<string, string>, path = `${API}/providers/`) => request(t.server).get(path).set(headers);

function expectThrottled(res: request.Response): void {
  expect(res.status).toBe(429);
  const retryAfter = Number(res.headers['retry-after']);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(res.body).toEqual({ detail: `Request was throttled. Expected available in ${retryAfter} seconds.` });
}

describe('Failed authentications per client address, with the defaults (20 a minute, no trusted proxy)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ env: { AUTH_FAILURES_PER_MINUTE: undefined, TRUST_PROXY: undefined } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('should not count successful or merely forbidden requests, nor requests without credentials', async () => {
    const reader = (
      await request(t.server)
        .post(`${API}/api-keys/`)
        .set(t.auth)
        .send({ name: 'reader', scopes: ['providers:read'] })
    ).body as { key: string };
    for (let i = 0; i < 30; i++) expect((await get(t, t.auth)).status).toBe(200);
    for (let i = 0; i < 25; i++) expect((await get(t, {})).status).toBe(401);
    for (let i = 0; i < 25; i++) expect((await get(t, { Authorization: `Bearer ${reader.key}` }, `${API}/api-keys/`)).status).toBe(403);
  });

  it('should answer 401 to 20 wrong tokens, whatever X-Forwarded-For says, then 429 with Retry-After to everything', async () => {
    for (let i = 1; i <= 20; i++) {
      // Each claims to come from elsewhere; without a trusted proxy the header changes nothing.
      const res = await get(t, { ...BAD, 'X-Forwarded-For': `198.51.100.${i}` });
      expect(res.status).toBe(401);
      if (i === 10) expect((await get(t, t.auth)).status).toBe(200); // successes in between are fine
    }
    expectThrottled(await get(t, { ...BAD, 'X-Forwarded-For': '198.51.100.200' }));
    // Blocked means blocked: a valid token from the same address waits too.
    expectThrottled(await get(t, t.auth));
    expectThrottled(await get(t, { 'X-Forwarded-For': '203.0.113.9', ...t.auth }));
    expectThrottled(await request(t.server).post(`${API}/providers/`).set('Authorization', 'Basic Zm9vOmJhcg==').send({}));
  });

  it('should leave health and the API docs open to a blocked address', async () => {
    expectThrottled(await get(t, t.auth));
    expect((await request(t.server).get('/health/live')).status).toBe(200);
    expect((await request(t.server).get('/health/ready')).status).toBe(200);
    expect((await request(t.server).get('/api/docs-json')).status).toBe(200);
  });

  // nestjs-pino keeps one root logger per process, so only the file's first app has its own capture.
  it('should log the address it blocked, without the tokens it was sent', () => {
    const logs = t.logs.lines.filter((l) => l.includes('too many failed authentications'));
    expect(logs).toHaveLength(1);
    expect(logs[0]).toContain('"client":"127.0.0.1"');
    expect(t.logs.text()).not.toContain('x'.repeat(43));
  });
});

describe('Failed authentications behind proxies that TRUST_PROXY does not list', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ env: { AUTH_FAILURES_PER_MINUTE: '3', TRUST_PROXY: '10.0.0.0/8,192.168.0.1' } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('should ignore X-Forwarded-For from 127.0.0.1 and count every request as from 127.0.0.1', async () => {
    for (let i = 1; i <= 3; i++) expect((await get(t, { ...BAD, 'X-Forwarded-For': `203.0.113.${i}` })).status).toBe(401);
    expectThrottled(await get(t, { ...t.auth, 'X-Forwarded-For': '203.0.113.50' }));
  });
});

describe('Failed authentications behind a trusted proxy (TRUST_PROXY=loopback)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ env: { AUTH_FAILURES_PER_MINUTE: '3', TRUST_PROXY: 'loopback' } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('should throttle the client the proxy names, and leave other clients of the same proxy alone', async () => {
    const attacker = { 'X-Forwarded-For': '203.0.113.5' };
    for (let i = 0; i < 3; i++) expect((await get(t, { ...BAD, ...attacker })).status).toBe(401);
    expectThrottled(await get(t, { ...BAD, ...attacker }));
    expectThrottled(await get(t, { ...t.auth, ...attacker }));
    // An address the client writes in front is not believed: the proxy appended the real one.
    expectThrottled(await get(t, { ...t.auth, 'X-Forwarded-For': '198.51.100.77, 203.0.113.5' }));

    expect((await get(t, { ...t.auth, 'X-Forwarded-For': '203.0.113.6' })).status).toBe(200);
    expect((await get(t, { ...t.auth, 'X-Forwarded-For': '203.0.113.6, 203.0.113.5' })).status).toBe(429);
    expect((await get(t, t.auth)).status).toBe(200); // the proxy itself, 127.0.0.1
  });

  it('should count an IPv6 client by its /64', async () => {
    for (let i = 1; i <= 3; i++) expect((await get(t, { ...BAD, 'X-Forwarded-For': `2001:db8:1:2::${i}` })).status).toBe(401);
    expectThrottled(await get(t, { ...t.auth, 'X-Forwarded-For': '2001:db8:1:2:ffff::9' }));
    expect((await get(t, { ...t.auth, 'X-Forwarded-For': '2001:db8:1:3::1' })).status).toBe(200);
  });
});
