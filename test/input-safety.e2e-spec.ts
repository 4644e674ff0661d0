import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import request from 'supertest';
import { API, startApp, type TestApp } from './support/app.js';
import { smtpProviderBody } from './support/factories.js';
import { fastSendingEnv, providerFor, waitForMessage } from './support/sending.js';
import { smtpServers, type TestSmtpServer } from './support/smtp-server.js';

const NUL = 'Null characters are not allowed.';
const surrogate = (codeUnit: string) => `Surrogate characters are not allowed: U+${codeUnit.toUpperCase()}.`;

/** `{"<field>": [[[ … ]]]}` as JSON text, nested `depth` arrays deep. */
const deeplyNested = (field: string, depth: number) => `{"${field}": ${'['.repeat(depth)}${']'.repeat(depth)}}`;

/** The contract's error bodies: `{"field": ["message", …]}` or `{"detail": "…"}`. */
function expectContractError(res: request.Response): void {
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.body as Record<string, unknown>;
  expect(typeof body).toBe('object');
  const keys = Object.keys(body);
  expect(keys.length).toBeGreaterThan(0);
  if (keys.includes('detail')) {
    expect(typeof body.detail).toBe('string');
    return;
  }
  for (const messages of Object.values(body)) {
    expect(Array.isArray(messages)).toBe(true);
    expect((messages as unknown[]).length).toBeGreaterThan(0);
    for (const m of messages as unknown[]) expect(typeof m).toBe('string');
  }
  expect(res.text).not.toMatch(/\n\s+at |stack/i);
}

describe('No input yields a 500 (NUL, lone surrogates, deep nesting, odd types)', () => {
  let t: TestApp;
  const servers = smtpServers();
  let sink: TestSmtpServer;
  let providerId: number;

  const send = (method: 'post' | 'put' | 'patch', path: string, body: object | string) => {
    const req = request(t.server)[method](`${API}${path}`).set(t.auth);
    return typeof body === 'string' ? req.set('Content-Type', 'application/json').send(body) : req.send(body);
  };
  const validMessage = (overrides: Record<string, unknown> = {}) => ({
    to: ['alice@example.com'],
    subject: 'Hello',
    text: 'Plain body',
    ...overrides,
  });

  beforeAll(async () => {
    t = await startApp({ env: fastSendingEnv() });
    sink = await servers.start();
    providerId = (await providerFor(t, sink)).id;
  });
  afterAll(async () => {
    await t.close();
    await servers.closeAll();
  });

  describe('U+0000 in a text field', () => {
    it.each<[string, string, (v: string) => object, string]>([
      ['POST /api-keys/ name', '/api-keys/', (v) => ({ name: v, scopes: ['send'] }), 'name'],
      ['POST /providers/ name', '/providers/', (v) => smtpProviderBody({ name: v }), 'name'],
      ['POST /providers/ smtp_username', '/providers/', (v) => smtpProviderBody({ smtp_username: v }), 'smtp_username'],
      ['POST /providers/ from_name', '/providers/', (v) => smtpProviderBody({ from_name: v }), 'from_name'],
      ['POST /providers/ smtp_password', '/providers/', (v) => smtpProviderBody({ smtp_password: v }), 'smtp_password'],
      [
        'POST /providers/ aws_region',
        '/providers/',
        (v) => smtpProviderBody({ provider_type: 'aws_ses', aws_region: v, aws_access_key_id: 'AKIA', aws_secret_access_key: 's' }),
        'aws_region',
      ],
      [
        'POST /providers/ aws_access_key_id',
        '/providers/',
        (v) => smtpProviderBody({ provider_type: 'aws_ses', aws_region: 'eu-west-1', aws_access_key_id: v, aws_secret_access_key: 's' }),
        'aws_access_key_id',
      ],
      ['POST /send/ subject', '/send/', (v) => validMessage({ subject: v }), 'subject'],
      ['POST /send/ text', '/send/', (v) => validMessage({ text: v }), 'text'],
      ['POST /send/ html', '/send/', (v) => validMessage({ html: v }), 'html'],
      ['POST /send/ from_name', '/send/', (v) => validMessage({ from_name: v }), 'from_name'],
      ['POST /send/ a header value', '/send/', (v) => validMessage({ headers: { 'X-Foo': v } }), 'headers.X-Foo'],
    ])('should answer 400 keyed by the field for %s', async (_, path, body, key) => {
      const res = await send('post', path, body('bad\u0000value'));
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ [key]: [NUL] });
    });

    it('should answer 400 keyed by the field for PATCH and update_credentials', async () => {
      for (const [method, path, body, key] of [
        ['patch', `/providers/${providerId}/`, { from_name: 'a\u0000' }, 'from_name'],
        ['put', `/providers/${providerId}/`, { smtp_username: '\u0000' }, 'smtp_username'],
        ['post', `/providers/${providerId}/update_credentials/`, { smtp_password: 'x\u0000' }, 'smtp_password'],
      ] as const) {
        const res = await send(method, path, body);
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ [key]: [NUL] });
      }
    });

    it('should report the other invalid fields beside it, as DRF reports every field', async () => {
      const res = await send('post', '/providers/', smtpProviderBody({ name: 'a\u0000', smtp_port: 70000 }));
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ name: [NUL], smtp_port: ['Ensure this value is less than or equal to 65535.'] });
    });

    it('should answer 400 keyed by the field when the NUL is in a query string', async () => {
      for (const path of ['/messages/?status=%00', '/providers/?provider_type=smtp%00', '/providers/statistics/?days=1%00']) {
        const res = await request(t.server).get(`${API}${path}`).set(t.auth);
        expect(res.status).toBe(400);
        expectContractError(res);
        expect(Object.values(res.body as Record<string, string[]>)).toEqual([[NUL]]);
      }
    });
  });

  describe('lone UTF-16 surrogates', () => {
    it.each<[string, string, (v: string) => object, string]>([
      ['POST /providers/ from_email', '/providers/', (v) => smtpProviderBody({ from_email: `a${v}@example.com` }), 'from_email'],
      ['POST /providers/ reply_to', '/providers/', (v) => smtpProviderBody({ reply_to: `${v}@example.com` }), 'reply_to'],
      ['POST /providers/ name', '/providers/', (v) => smtpProviderBody({ name: `x${v}` }), 'name'],
      ['POST /send/ to', '/send/', (v) => validMessage({ to: ['bob@example.com', `a${v}@example.com`] }), 'to.1'],
      ['POST /send/ from_email', '/send/', (v) => validMessage({ from_email: `a${v}@example.com` }), 'from_email'],
      ['POST /send/ a header value', '/send/', (v) => validMessage({ headers: { 'X-Foo': `a${v}` } }), 'headers.X-Foo'],
      [
        'POST /send/ an attachment filename',
        '/send/',
        (v) => validMessage({ attachments: [{ filename: `a${v}.txt`, content: 'aGk=' }] }),
        'attachments.0.filename',
      ],
      [`POST /providers/{id}/test/ test_email`, '/providers/PROVIDER/test/', (v) => ({ test_email: `a${v}@example.com` }), 'test_email'],
    ])('should answer 400 keyed by the field for %s', async (_, path, body, key) => {
      for (const codeUnit of ['d800', 'dfff']) {
        // JSON.stringify writes a lone surrogate as the escape `\udXXX`, as a client in any language would.
        const res = await send('post', path.replace('PROVIDER', String(providerId)), body(String.fromCharCode(parseInt(codeUnit, 16))));
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ [key]: [surrogate(codeUnit)] });
      }
    });

    it('should answer 400 when a header name or another record key holds one', async () => {
      const res = await send('post', '/send/', validMessage({ headers: { 'X-\udc00': 'v' } }));
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ headers: [surrogate('dc00')] });
    });

    it('should accept a surrogate pair (an emoji), which is a whole character', async () => {
      const res = await send('post', '/send/', validMessage({ subject: 'Hi 👋', headers: { 'X-Mood': '😀' } }));
      expect(res.status).toBe(202);
    });
  });

  describe('deep nesting', () => {
    it.each([
      ['POST /providers/', '/providers/', 'name'],
      ['POST /api-keys/', '/api-keys/', 'scopes'],
      ['POST /send/', '/send/', 'attachments'],
      ['POST /providers/ (a field the route ignores)', '/providers/', 'no_such_field'],
      ['POST /providers/{id}/test/', '/providers/PROVIDER/test/', 'test_email'],
    ])('should answer 400 keyed by the field for 1,500 nested arrays in %s', async (_, path, field) => {
      const res = await send('post', path.replace('PROVIDER', String(providerId)), deeplyNested(field, 1500));
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ [field]: ['Ensure this field has no more than 20 levels of nesting.'] });
    });

    it('should answer 400 and stay up for a body nested 1,000,000 levels deep', async () => {
      // Only POST /send/ reads a 2 MB body; elsewhere it is over BODY_LIMIT_BYTES and never parsed.
      const res = await send('post', '/send/', deeplyNested('attachments', 1_000_000));
      expect(res.status).toBe(400);
      expectContractError(res);
      const patched = await send('patch', `/providers/${providerId}/`, deeplyNested('name', 1_000_000));
      expect(patched.status).toBe(413);
      expectContractError(patched);
      await request(t.server).get(`${API}/providers/${providerId}/`).set(t.auth).expect(200);
    });
  });

  describe('path parameters', () => {
    it.each(['%00', '1%00', '%F0%9F%98%80', '1e3', '0x10', '99999999999999999999', '-0', '%201', '1.0'])(
      'should answer 404 Not found. for the id %j, as a route of integer ids would',
      async (id) => {
        for (const path of [`/providers/${id}/`, `/messages/${id}/`, `/providers/${id}/health_history/`]) {
          const res = await request(t.server).get(`${API}${path}`).set(t.auth);
          expect([path, res.status, res.body]).toEqual([path, 404, { detail: 'Not found.' }]);
        }
      },
    );

    it.each(['%', '%ED%A0%80', '%C0'])('should answer 400 with a detail when the id %j is not valid percent-encoded UTF-8', async (id) => {
      const res = await request(t.server).get(`${API}/providers/${id}/`).set(t.auth);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ detail: expect.stringContaining('decode') });
    });
  });

  describe('a subject or header value that cannot be folded into lines of 998', () => {
    const rawLines = (raw: Buffer) => raw.toString('latin1').split('\r\n');

    it('should refuse a 998-character word in the subject or a header value, keyed by the field', async () => {
      const word = 'W'.repeat(998);
      for (const [body, key] of [
        [validMessage({ subject: word }), 'subject'],
        [validMessage({ subject: `Invoice ${'w'.repeat(901)} 42` }), 'subject'],
        [validMessage({ headers: { 'X-Long': word } }), 'headers'],
      ] as const) {
        const res = await send('post', '/send/', body);
        expect(res.status).toBe(400);
        expect(Object.keys(res.body as object)).toEqual([key]);
        expectContractError(res);
      }
    });

    it('should deliver the longest values it accepts with every line within 998 characters, and round-trip them', async () => {
      const subject = `${'S'.repeat(900)} ${'s'.repeat(97)}`; // 998 characters, a 900-character word
      const header = ' '.repeat(60) + 'H'.repeat(900) + ' tail'; // leading spaces where a fold may start
      const unicode = 'é'.repeat(998);
      const name = `X-${'N'.repeat(74)}`; // the longest header name accepted
      const delivered = [];
      for (const body of [
        validMessage({ subject, headers: { [name]: header.trim() } }),
        validMessage({ subject: unicode, headers: { 'X-Spaces': header } }),
      ]) {
        const res = await send('post', '/send/', { ...body, provider_id: providerId });
        expect(res.status).toBe(202);
        const done = await waitForMessage(t, (res.body as { id: number }).id);
        expect(done.status).toBe('sent');
        const got = sink.received.find((m) => m.parsed.messageId === done.message_id);
        expect(got).toBeDefined();
        expect(
          rawLines(got!.raw)
            .filter((line) => line.length > 998)
            .map((line) => line.slice(0, 40)),
        ).toEqual([]);
        delivered.push(got!.parsed);
      }
      expect(delivered[0].subject).toBe(subject);
      expect(delivered[0].headers.get(name.toLowerCase())).toBe(header.trim());
      expect(delivered[1].subject).toBe(unicode);
      expect(delivered[1].headers.get('x-spaces')).toBe(header.trim()); // unfolding drops the leading spaces
    });
  });

  describe('property: any value in any field of any route', () => {
    const loneSurrogate = fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff', '\ud83d');
    const nastyString = fc.oneof(
      fc.tuple(fc.string(), fc.string()).map(([a, b]) => `${a}\u0000${b}`),
      fc.tuple(fc.string(), loneSurrogate, fc.string()).map(([a, s, b]) => a + s + b),
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.integer({ min: 999, max: 300_000 }).map((n) => 'x'.repeat(n)),
      fc.constantFrom('', ' ', '\r\n', 'a@b', '1e400', '99999999999999999999999', 'true', 'null', '__proto__', 'constructor'),
    );
    const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
      nastyString,
      fc.constantFrom(1e308, -1e308, 2 ** 53 + 2, -(2 ** 63), 0.5, -1, 0, null, true, false, {}, [], [null], [[[]]]),
      fc.integer({ min: 21, max: 3000 }).map((depth) => ({ __deep: depth })),
      fc.array(nastyString, { maxLength: 3 }),
      fc.dictionary(nastyString, nastyString, { maxKeys: 3 }),
      fc.jsonValue({ maxDepth: 3 }),
    );

    // A valid body for every route that takes one; the property breaks one field of it at a time.
    const routes: { method: 'post' | 'put' | 'patch'; path: () => string; base: () => Record<string, unknown>; fields: string[] }[] = [
      { method: 'post', path: () => '/api-keys/', base: () => ({ name: 'fuzz', scopes: ['send'] }), fields: ['name', 'scopes'] },
      {
        method: 'post',
        path: () => '/providers/',
        base: () => smtpProviderBody({ smtp_host: sink.host, smtp_port: sink.port, is_active: false }),
        fields: Object.keys(smtpProviderBody()).concat('aws_region', 'aws_access_key_id', 'aws_secret_access_key'),
      },
      {
        method: 'patch',
        path: () => `/providers/${providerId}/`,
        base: () => ({}),
        fields: ['name', 'from_name', 'reply_to', 'daily_limit'],
      },
      { method: 'put', path: () => `/providers/${providerId}/`, base: () => ({}), fields: ['smtp_username', 'from_email', 'priority'] },
      {
        method: 'post',
        path: () => `/providers/${providerId}/update_credentials/`,
        // Puts the provider back on the test server, so the test route keeps sending there.
        base: () => ({
          smtp_host: sink.host,
          smtp_port: sink.port,
          smtp_username: '',
          smtp_password: '',
          smtp_use_tls: false,
          smtp_use_ssl: false,
        }),
        // Not smtp_host: a valid odd host would make the test route wait on DNS; POST /providers/ covers it.
        fields: ['smtp_port', 'smtp_username', 'smtp_password', 'smtp_use_tls', 'aws_region'],
      },
      {
        method: 'post',
        path: () => `/providers/${providerId}/test/`,
        base: () => ({ test_email: 'a@example.com' }),
        fields: ['test_email'],
      },
      {
        method: 'post',
        path: () => '/send/',
        base: () =>
          validMessage({
            provider_id: providerId,
            headers: { 'X-Ok': 'fine' },
            attachments: [{ filename: 'a.txt', content: 'aGk=', content_type: 'text/plain' }],
          }),
        fields: [
          'to',
          'cc',
          'bcc',
          'reply_to',
          'from_email',
          'from_name',
          'subject',
          'text',
          'html',
          'headers',
          'attachments',
          'provider_id',
          'send_at',
          'wait',
          'headers.X-Ok',
          'attachments.0.filename',
          'attachments.0.content',
          'attachments.0.content_type',
          'to.0',
        ],
      },
    ];

    /** Sets `path` (dotted) in `body` to `value`; `{__deep: n}` becomes n nested arrays in the JSON text. */
    function mutate(body: Record<string, unknown>, path: string | { unknown: string }, value: unknown): string {
      const keys = typeof path === 'string' ? path.split('.') : [path.unknown];
      let at = body as Record<string, unknown>;
      for (const key of keys.slice(0, -1)) at = at[key] as Record<string, unknown>;
      const deep = (value as { __deep?: number } | null)?.__deep;
      at[keys[keys.length - 1]] = deep ? '__DEEP__' : value;
      const json = JSON.stringify(body);
      return deep ? json.replace('"__DEEP__"', '['.repeat(deep) + ']'.repeat(deep)) : json;
    }

    it('should never answer 5xx to a body with one bad field, and answer in the contract shape', async () => {
      const cases = fc.tuple(
        fc.nat(routes.length - 1),
        fc.nat(),
        fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, nastyString),
        nastyValue,
      );
      await fc.assert(
        fc.asyncProperty(cases, async ([r, f, unknownKey, value]) => {
          const route = routes[r];
          const field = route.fields[f % route.fields.length];
          const raw = mutate(route.base(), unknownKey === null ? field : { unknown: unknownKey }, value);
          const res = await send(route.method, route.path(), raw);
          expect(res.status).toBeLessThan(500);
          // A test message the server refused is the seed's own 400: {"success": false, "error": …}.
          const testFailed = route.path().endsWith('/test/') && (res.body as { success?: unknown }).success === false;
          if (res.status >= 400 && !testFailed) expectContractError(res);
          const text = typeof value === 'string' && (value.includes('\u0000') || /\p{Cs}/u.test(value));
          if (text && unknownKey === null) {
            // The bad text is refused under its own key (or one inside it).
            expect(res.status).toBe(400);
            const keys = Object.keys(res.body as object);
            expect(keys.some((k) => k === field || k.startsWith(`${field}.`) || field.startsWith(`${k}.`))).toBe(true);
          }
        }),
        { numRuns: 150 },
      );
    });

    it('should never answer 5xx to a bad query string or path id, and answer in the contract shape', async () => {
      const queries = [
        '/providers/',
        '/providers/statistics/',
        '/providers/health_status/',
        '/messages/',
        `/providers/${providerId}/health_history/`,
      ];
      const params = [
        'status',
        'provider_id',
        'created_since',
        'created_until',
        'page',
        'page_size',
        'provider_type',
        'health_status',
        'is_active',
        'priority',
        'days',
      ];
      // Percent-encoded text (a lone surrogate has no UTF-8 form: NUL stands in) or raw malformed escapes.
      const component = fc.oneof(
        nastyString.filter((v) => v.length < 2000).map((v) => encodeURIComponent(v.replace(/[\ud800-\udfff]/g, '\u0000'))),
        fc.constantFrom('%', '%ED%A0%80', '%00', '%C0%80', '%FF', '1e400', '99999999999999999999', '-1', '[]', '{}'),
        fc.bigInt().map(String),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...queries),
          fc.constantFrom(...params),
          component,
          fc.boolean(),
          async (path, param, value, repeat) => {
            const qs = `${param}=${value}`;
            const res = await request(t.server)
              .get(`${API}${path}?${qs}${repeat ? `&${qs}` : ''}`)
              .set(t.auth);
            expect(res.status).toBeLessThan(500);
            if (res.status >= 400) expectContractError(res);
          },
        ),
        { numRuns: 60 },
      );
      await fc.assert(
        fc.asyncProperty(
          component,
          fc.constantFrom('providers/', 'providers/ID/health_history/', 'providers/ID/activate/', 'messages/', 'api-keys/'),
          async (id, route) => {
            const path = route.includes('ID') ? route.replace('ID', id) : `${route}${id}/`;
            const method = route.includes('activate') ? 'post' : route === 'api-keys/' ? 'delete' : 'get';
            const res = await request(t.server)[method](`${API}/${path}`).set(t.auth);
            expect(res.status).toBeLessThan(500);
            if (res.status >= 400) expectContractError(res);
          },
        ),
        { numRuns: 40 },
      );
    });
  });
});
