import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { API, startApp, type TestApp } from './support/app.js';
import { smtpProviderBody } from './support/factories.js';

const NOT_FOUND = { detail: 'Not found.' };
const TOO_LARGE = { detail: 'Request body is too large.' };
const FRONT_END = 'https://mail-admin.example.com';
const OTHER_FRONT_END = 'http://localhost:5173';

/** A send body whose single attachment makes it about `bytes` long. */
function sendBody(bytes: number): Record<string, unknown> {
  const content = Buffer.alloc(Math.floor((bytes * 3) / 4), 'a').toString('base64');
  return { to: ['alice@example.com'], subject: 'Report', text: 'Attached.', attachments: [{ filename: 'report.txt', content }] };
}

function corsHeadersOf(res: request.Response): Record<string, unknown> {
  return Object.fromEntries(Object.entries(res.headers).filter(([name]) => name.startsWith('access-control-')));
}

describe('HTTP as browsers and proxies expect it', () => {
  let t: TestApp;

  beforeAll(async () => {
    // No CORS_ORIGINS and no body limit settings: the defaults.
    t = await startApp({ env: { CORS_ORIGINS: undefined, BODY_LIMIT_BYTES: undefined, SEND_WORKERS_ENABLED: 'false' } });
  });
  afterAll(async () => {
    await t.close();
  });

  describe('security headers', () => {
    const responses = (): [string, request.Test][] => [
      ['a list', request(t.server).get(`${API}/providers/`).set(t.auth)],
      ['a 401', request(t.server).get(`${API}/providers/`)],
      ['liveness', request(t.server).get('/health/live')],
      ['Swagger UI', request(t.server).get('/api/docs')],
      ['an unknown path', request(t.server).get('/no-such-page')],
      [
        'a JSON parse error',
        request(t.server).post(`${API}/providers/`).set(t.auth).set('Content-Type', 'application/json').send('{"broken'),
      ],
      [
        'a 413',
        request(t.server)
          .post(`${API}/providers/`)
          .set(t.auth)
          .send({ name: 'x'.repeat(200_000) }),
      ],
    ];

    it('should send nosniff, deny framing, a CSP and no X-Powered-By on every kind of response', async () => {
      for (const [what, pending] of responses()) {
        const res = await pending;
        const where = `${what} → ${res.status}`;
        expect([where, res.headers['x-content-type-options']]).toEqual([where, 'nosniff']);
        expect([where, res.headers['x-frame-options']]).toEqual([where, 'DENY']);
        const csp = String(res.headers['content-security-policy']);
        expect([where, csp]).toEqual([where, expect.stringContaining("default-src 'self'")]);
        expect([where, csp]).toEqual([where, expect.stringContaining("frame-ancestors 'none'")]);
        expect([where, csp]).toEqual([where, expect.stringContaining("object-src 'none'")]);
        expect([where, res.headers['x-powered-by']]).toEqual([where, undefined]);
      }
    });

    it('should not send HSTS over plain HTTP, nor when an untrusted client claims https', async () => {
      for (const res of [
        await request(t.server).get('/health/live'),
        await request(t.server).get('/health/live').set('X-Forwarded-Proto', 'https'),
      ]) {
        expect(res.status).toBe(200);
        expect(res.headers['strict-transport-security']).toBeUndefined();
      }
    });

    it('should send HSTS when a trusted proxy says the client came over https', async () => {
      // What TRUST_PROXY sets: Express then believes X-Forwarded-Proto from that proxy (here, loopback).
      const express = t.app.getHttpAdapter().getInstance() as { set(name: string, value: unknown): void };
      express.set('trust proxy', 'loopback');
      try {
        const res = await request(t.server).get(`${API}/providers/`).set('X-Forwarded-Proto', 'https');
        expect(res.status).toBe(401);
        expect(res.headers['strict-transport-security']).toMatch(/^max-age=\d{7,}; includeSubDomains$/);
        const plain = await request(t.server).get(`${API}/providers/`).set('X-Forwarded-Proto', 'http');
        expect(plain.headers['strict-transport-security']).toBeUndefined();
      } finally {
        express.set('trust proxy', false);
      }
    });
  });

  describe('unknown paths', () => {
    it.each([
      ['GET', '/'],
      ['GET', '/api'],
      ['GET', '/api/'],
      ['GET', '/api/email-provider'],
      ['GET', '/api/email-provider/'],
      ['GET', '//api/email-provider/providers/'],
      ['GET', '/favicon.ico'],
      ['GET', '/health'],
      ['GET', '/api/docs/no-such-file.js'],
      ['POST', '/'],
      ['DELETE', '/api/anything'],
      ['PUT', `${API}/no-such-route/`],
      ['GET', '/%2e%2e/etc/passwd'],
    ])('should answer %s %s with a JSON 404 in the contract shape', async (method, path) => {
      const res = await request(t.server)[method.toLowerCase() as 'get'](path).set(t.auth);
      expect([path, res.status, res.body]).toEqual([path, 404, NOT_FOUND]);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.text).not.toMatch(/<html|<pre>|Cannot /i);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    });

    it('should still answer 405 with Allow for a method a known path lacks, inside and outside the prefix', async () => {
      for (const [method, path, allowed] of [
        ['patch', `${API}/providers/`, 'POST'],
        ['post', '/health/live', 'GET'],
        ['post', '/api/docs', 'GET'],
      ] as const) {
        const res = await request(t.server)[method](path).set(t.auth);
        expect([path, res.status, res.body]).toEqual([path, 405, { detail: `Method "${method.toUpperCase()}" not allowed.` }]);
        expect(String(res.headers.allow).split(/,\s*/)).toContain(allowed);
      }
    });

    it('should answer OPTIONS with 204 and Allow on a known path, and 404 on an unknown one', async () => {
      const known = await request(t.server).options(`${API}/providers/`);
      expect(known.status).toBe(204);
      expect(String(known.headers.allow).split(/,\s*/)).toEqual(expect.arrayContaining(['GET', 'POST', 'OPTIONS']));
      const unknown = await request(t.server).options(`${API}/no-such-route/`);
      expect([unknown.status, unknown.body]).toEqual([404, NOT_FOUND]);
    });
  });

  describe('CORS without CORS_ORIGINS', () => {
    it('should give no origin any CORS header, on a preflight or a request', async () => {
      const preflight = await request(t.server)
        .options(`${API}/providers/`)
        .set('Origin', FRONT_END)
        .set('Access-Control-Request-Method', 'POST')
        .set('Access-Control-Request-Headers', 'authorization,content-type');
      expect(corsHeadersOf(preflight)).toEqual({});
      const res = await request(t.server).get(`${API}/providers/`).set(t.auth).set('Origin', FRONT_END);
      expect(res.status).toBe(200);
      expect(corsHeadersOf(res)).toEqual({});
    });
  });

  describe('request body limits (defaults)', () => {
    it('should answer 413 in the contract shape when a provider body is over 100 kB, and store nothing', async () => {
      const before = (await request(t.server).get(`${API}/providers/`).set(t.auth)).body.length as number;
      for (const res of [
        await request(t.server)
          .post(`${API}/providers/`)
          .set(t.auth)
          .send(smtpProviderBody({ from_name: 'x'.repeat(110 * 1024) })),
        await request(t.server)
          .post(`${API}/api-keys/`)
          .set(t.auth)
          .send({ name: 'x'.repeat(110 * 1024), scopes: ['send'] }),
        // Refused before authentication: an anonymous client cannot make the service read a large body.
        await request(t.server)
          .post(`${API}/providers/`)
          .send(smtpProviderBody({ from_name: 'x'.repeat(110 * 1024) })),
      ]) {
        expect([res.status, res.body]).toEqual([413, TOO_LARGE]);
      }
      expect((await request(t.server).get(`${API}/providers/`).set(t.auth)).body).toHaveLength(before);
    });

    it('should read a body under 100 kB on the same routes', async () => {
      const res = await request(t.server)
        .post(`${API}/providers/`)
        .set(t.auth)
        .send(smtpProviderBody({ from_name: 'x'.repeat(90 * 1024) }));
      expect(res.status).toBe(400);
      expect(Object.keys(res.body)).toEqual(['from_name']);
    });

    it('should accept a send with a 2 MB attachment, and answer 413 when the body exceeds the send limit', async () => {
      const accepted = await request(t.server)
        .post(`${API}/send/`)
        .set(t.auth)
        .send(sendBody(2 * 1024 * 1024));
      expect(accepted.status).not.toBe(413);
      expect(accepted.status).toBeLessThan(500);
      // SEND_MAX_ATTACHMENT_BYTES is 10 MB by default: base64 makes it 13.3 MB, plus 2 MB for the rest.
      const refused = await request(t.server)
        .post(`${API}/send/`)
        .set(t.auth)
        .send(sendBody(16 * 1024 * 1024));
      expect([refused.status, refused.body]).toEqual([413, TOO_LARGE]);
    });
  });
});

describe('HTTP with CORS_ORIGINS and body limits configured', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp({
      env: {
        CORS_ORIGINS: `${FRONT_END}, ${OTHER_FRONT_END}`,
        BODY_LIMIT_BYTES: '4096',
        SEND_MAX_ATTACHMENT_BYTES: '65536',
        SEND_WORKERS_ENABLED: 'false',
      },
    });
  });
  afterAll(async () => {
    await t.close();
  });

  describe('CORS', () => {
    it.each([FRONT_END, OTHER_FRONT_END])(
      'should answer a preflight from %s with 204 and the headers the front end sends',
      async (origin) => {
        const res = await request(t.server)
          .options(`${API}/send/`)
          .set('Origin', origin)
          .set('Access-Control-Request-Method', 'POST')
          .set('Access-Control-Request-Headers', 'authorization,content-type,idempotency-key');
        expect(res.status).toBe(204);
        expect(res.headers['access-control-allow-origin']).toBe(origin);
        expect(String(res.headers['access-control-allow-methods']).split(',')).toEqual(
          expect.arrayContaining(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
        );
        const allowedHeaders = String(res.headers['access-control-allow-headers']).toLowerCase().split(/,\s*/);
        expect(allowedHeaders).toEqual(expect.arrayContaining(['authorization', 'content-type', 'idempotency-key']));
        expect(res.headers['access-control-allow-credentials']).toBeUndefined();
        expect(String(res.headers.vary)).toMatch(/Origin/);
      },
    );

    it('should let an allowed origin read responses, errors included', async () => {
      for (const res of [
        await request(t.server).get(`${API}/providers/`).set(t.auth).set('Origin', FRONT_END),
        await request(t.server).get(`${API}/providers/`).set('Origin', FRONT_END),
        await request(t.server).get(`${API}/no-such-route/`).set(t.auth).set('Origin', FRONT_END),
      ]) {
        expect(res.headers['access-control-allow-origin']).toBe(FRONT_END);
        expect(String(res.headers['access-control-expose-headers'])).toMatch(/Retry-After/);
      }
    });

    it.each([
      ['another site', 'https://evil.example.com'],
      ['a sub-domain of an allowed origin', 'https://x.mail-admin.example.com'],
      ['an allowed host with another scheme', 'http://mail-admin.example.com'],
      ['an allowed host on another port', 'https://mail-admin.example.com:8443'],
      ['the literal null origin', 'null'],
    ])('should give %s no CORS header at all', async (_, origin) => {
      const preflight = await request(t.server)
        .options(`${API}/send/`)
        .set('Origin', origin)
        .set('Access-Control-Request-Method', 'POST')
        .set('Access-Control-Request-Headers', 'authorization');
      expect(corsHeadersOf(preflight)).toEqual({});
      const res = await request(t.server).get(`${API}/providers/`).set(t.auth).set('Origin', origin);
      expect(res.status).toBe(200);
      expect(corsHeadersOf(res)).toEqual({});
    });
  });

  describe('request body limits (BODY_LIMIT_BYTES and SEND_MAX_ATTACHMENT_BYTES)', () => {
    it('should hold other routes to BODY_LIMIT_BYTES', async () => {
      const small = await request(t.server)
        .post(`${API}/api-keys/`)
        .set(t.auth)
        .send({ name: 'x'.repeat(3000), scopes: ['send'] });
      expect(small.status).toBe(400);
      const large = await request(t.server)
        .post(`${API}/api-keys/`)
        .set(t.auth)
        .send({ name: 'x'.repeat(5000), scopes: ['send'] });
      expect([large.status, large.body]).toEqual([413, TOO_LARGE]);
    });

    it('should give POST /send/ the limit derived from SEND_MAX_ATTACHMENT_BYTES', async () => {
      const accepted = await request(t.server)
        .post(`${API}/send/`)
        .set(t.auth)
        .send(sendBody(60 * 1024));
      expect(accepted.status).not.toBe(413);
      expect(accepted.status).toBeLessThan(500);
      // 64 kB of attachments → about 2.1 MB of body at most.
      const refused = await request(t.server)
        .post(`${API}/send/`)
        .set(t.auth)
        .send(sendBody(3 * 1024 * 1024));
      expect([refused.status, refused.body]).toEqual([413, TOO_LARGE]);
    });
  });
});
