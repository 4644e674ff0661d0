import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { API, startApp, type TestApp } from './support/app.js';
import { smtpProviderBody } from './support/factories.js';

const REQUIRED = 'This field is required.';
const BOTH_TLS = 'smtp_use_tls (STARTTLS) and smtp_use_ssl (implicit TLS) cannot both be true.';

/** The factory body without the given fields. */
function without(...keys: string[]): Record<string, unknown> {
  const body = smtpProviderBody();
  for (const key of keys) delete body[key];
  return body;
}

describe('Validation and error shapes (DRF convention)', () => {
  let t: TestApp;
  // Every response of the test that is running, checked after it for leaks and 500s.
  let responses: request.Response[] = [];
  const seen = async (pending: request.Test): Promise<request.Response> => {
    const res = await pending;
    responses.push(res);
    return res;
  };
  const post = (path: string, body?: object | string) => seen(request(t.server).post(`${API}${path}`).set(t.auth).send(body));
  const get = (path: string) => seen(request(t.server).get(`${API}${path}`).set(t.auth));
  const patch = (path: string, body: object) => seen(request(t.server).patch(`${API}${path}`).set(t.auth).send(body));
  const postRaw = (body: string) =>
    seen(request(t.server).post(`${API}/providers/`).set(t.auth).set('Content-Type', 'application/json').send(body));
  const countProviders = async () => ((await get('/providers/')).body as unknown[]).length;
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
  afterEach(() => {
    for (const res of responses) {
      expect(res.status).not.toBe(500);
      expect(res.text).not.toMatch(/stack/i);
      expect(res.text).not.toMatch(/\bat \S+ \(|\n\s+at /); // a stack frame
    }
    responses = [];
  });

  describe('POST /providers/ with an invalid field', () => {
    it.each<[string, Record<string, unknown>, Record<string, string[]>]>([
      ['name is missing', without('name'), { name: [REQUIRED] }],
      ['provider_type is missing', without('provider_type'), { provider_type: [REQUIRED] }],
      ['from_email is missing', without('from_email'), { from_email: [REQUIRED] }],
      ['name is blank', smtpProviderBody({ name: '' }), { name: ['This field may not be blank.'] }],
      ['name is only spaces', smtpProviderBody({ name: '   ' }), { name: ['This field may not be blank.'] }],
      [
        'name is longer than 100',
        smtpProviderBody({ name: 'n'.repeat(101) }),
        { name: ['Ensure this field has no more than 100 characters.'] },
      ],
      ['provider_type is unknown', smtpProviderBody({ provider_type: 'x' }), { provider_type: ['"x" is not a valid choice.'] }],
      [
        'smtp_port is above 65535',
        smtpProviderBody({ smtp_port: 70000 }),
        { smtp_port: ['Ensure this value is less than or equal to 65535.'] },
      ],
      ['smtp_port is 0', smtpProviderBody({ smtp_port: 0 }), { smtp_port: ['Ensure this value is greater than or equal to 1.'] }],
      ['smtp_port is not a number', smtpProviderBody({ smtp_port: 'abc' }), { smtp_port: ['A valid integer is required.'] }],
      ['smtp_port is a fraction', smtpProviderBody({ smtp_port: 587.5 }), { smtp_port: ['A valid integer is required.'] }],
      ['from_email is not an address', smtpProviderBody({ from_email: 'not-an-email' }), { from_email: ['Enter a valid email address.'] }],
      [
        'from_email smuggles a header with CR/LF',
        smtpProviderBody({ from_email: 'a@example.com\r\nBcc: victim@evil.test' }),
        { from_email: ['Enter a valid email address.'] },
      ],
      [
        'from_email has angle brackets',
        smtpProviderBody({ from_email: 'Boss <a@example.com>' }),
        { from_email: ['Enter a valid email address.'] },
      ],
      [
        'from_email lists two addresses',
        smtpProviderBody({ from_email: 'a@example.com,b@example.com' }),
        { from_email: ['Enter a valid email address.'] },
      ],
      ['reply_to is not an address', smtpProviderBody({ reply_to: 'nobody' }), { reply_to: ['Enter a valid email address.'] }],
      ['priority is not 1, 2 or 3', smtpProviderBody({ priority: 5 }), { priority: ['"5" is not a valid choice.'] }],
      ['smtp_use_tls is not a boolean', smtpProviderBody({ smtp_use_tls: 'maybe' }), { smtp_use_tls: ['Must be a valid boolean.'] }],
      [
        'daily_limit is negative',
        smtpProviderBody({ daily_limit: -1 }),
        { daily_limit: ['Ensure this value is greater than or equal to 0.'] },
      ],
      [
        'smtp_host is not a host name',
        smtpProviderBody({ smtp_host: 'bad host!' }),
        { smtp_host: ['Enter a valid hostname or IP address.'] },
      ],
      [
        'from_name holds a line break',
        smtpProviderBody({ from_name: 'Evil\r\nBcc: victim@evil.test' }),
        { from_name: ['This field may not contain line breaks.'] },
      ],
      ['name is null', smtpProviderBody({ name: null }), { name: ['This field may not be null.'] }],
      ['both TLS flags are true', smtpProviderBody({ smtp_use_tls: true, smtp_use_ssl: true }), { non_field_errors: [BOTH_TLS] }],
      [
        'an smtp provider has no smtp_host',
        { name: `No host ${Date.now()}`, provider_type: 'smtp', from_email: 'a@example.com' },
        { smtp_host: [REQUIRED] },
      ],
      [
        'an aws_ses provider has none of its aws fields',
        { name: `SES ${Date.now()}`, provider_type: 'aws_ses', from_email: 'ses@example.com' },
        { aws_region: [REQUIRED], aws_access_key_id: [REQUIRED], aws_secret_access_key: [REQUIRED] },
      ],
    ])('should answer 400 keyed by field and create nothing when %s', async (_, body, expected) => {
      const before = await countProviders();
      const res = await post('/providers/', body);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(expected);
      expect(await countProviders()).toBe(before);
    });

    it('should report one message for each invalid field when several are wrong at once', async () => {
      const res = await post('/providers/', smtpProviderBody({ name: '', smtp_port: 'abc', priority: 9, smtp_use_tls: 'maybe' }));
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        name: ['This field may not be blank.'],
        smtp_port: ['A valid integer is required.'],
        priority: ['"9" is not a valid choice.'],
        smtp_use_tls: ['Must be a valid boolean.'],
      });
    });
  });

  describe('POST /providers/ with values DRF accepts', () => {
    it('should store a numeric string port as a number when smtp_port is "587"', async () => {
      const created = await create({ smtp_port: '587' });
      expect(created.smtp_port).toBe(587);
      expect((await get(`/providers/${created.id}/`)).body.smtp_port).toBe(587);
    });

    it('should ignore unknown fields when the body has them', async () => {
      const res = await post('/providers/', smtpProviderBody({ favourite_colour: 'teal', smtp_password_encrypted: 'gAAAAAforged' }));
      expect(res.status).toBe(201);
      expect(res.body).not.toHaveProperty('favourite_colour');
      expect(res.body).not.toHaveProperty('smtp_password_encrypted');
    });

    it('should ignore read-only fields when a create sends them', async () => {
      const res = await post(
        '/providers/',
        smtpProviderBody({
          id: 987654,
          health_status: 'healthy',
          emails_sent_today: 42,
          has_smtp_password: false,
          created_at: '2000-01-01T00:00:00Z',
        }),
      );
      expect(res.status).toBe(201);
      expect(res.body.id).not.toBe(987654);
      expect(res.body).toMatchObject({ health_status: 'unknown', emails_sent_today: 0, has_smtp_password: true });
      expect(res.body.created_at).not.toBe('2000-01-01T00:00:00Z');
      expect((await get('/providers/987654/')).status).toBe(404);
    });

    it('should ignore read-only fields when an update sends them', async () => {
      const created = await create();
      const res = await patch(`/providers/${created.id}/`, { id: created.id + 1000, health_status: 'unhealthy', emails_sent_today: 7 });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: created.id, health_status: 'unknown', emails_sent_today: 0 });
      expect((await get(`/providers/${created.id}/`)).body).toMatchObject({ id: created.id, health_status: 'unknown' });
    });
  });

  describe('PATCH /providers/{id}/ rejected', () => {
    it.each<[string, Record<string, unknown>, Record<string, string[]>]>([
      [
        'a field is invalid',
        { name: '', smtp_port: 70000 },
        { name: ['This field may not be blank.'], smtp_port: ['Ensure this value is less than or equal to 65535.'] },
      ],
      ['it turns on implicit TLS beside STARTTLS', { smtp_use_ssl: true }, { non_field_errors: [BOTH_TLS] }],
      ['it clears the host of an smtp provider', { smtp_host: null }, { smtp_host: [REQUIRED] }],
      ['a non-nullable field is null', { from_email: null }, { from_email: ['This field may not be null.'] }],
    ])('should leave the row unchanged when %s', async (_, body, expected) => {
      const created = await create({ smtp_use_tls: true, smtp_use_ssl: false });
      const res = await patch(`/providers/${created.id}/`, body);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(expected);
      expect((await get(`/providers/${created.id}/`)).body).toEqual(created);
    });
  });

  describe('bodies that are not a JSON object', () => {
    it('should answer 400 with a JSON parse error detail when the JSON is malformed', async () => {
      const before = await countProviders();
      const res = await postRaw('{"name": "x",');
      expect(res.status).toBe(400);
      expect(Object.keys(res.body)).toEqual(['detail']);
      expect(res.body.detail).toContain('JSON parse error');
      expect(await countProviders()).toBe(before);
    });

    it('should answer 400 under non_field_errors when the body is a JSON array', async () => {
      const before = await countProviders();
      const res = await postRaw(JSON.stringify([smtpProviderBody()]));
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] });
      expect(await countProviders()).toBe(before);
    });

    it('should answer 400 under non_field_errors when a PATCH body is a JSON array', async () => {
      const created = await create();
      const res = await seen(
        request(t.server)
          .patch(`${API}/providers/${created.id}/`)
          .set(t.auth)
          .set('Content-Type', 'application/json')
          .send('[{"name": "x"}]'),
      );
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] });
      expect((await get(`/providers/${created.id}/`)).body).toEqual(created);
    });

    it.each([
      ['a JSON string', '"just a string"', 'Invalid data. Expected a dictionary, but got str.'],
      ['a JSON number', '42', 'Invalid data. Expected a dictionary, but got int.'],
      ['JSON null', 'null', 'No data provided'],
    ])('should answer 400 under non_field_errors when the body is %s', async (_, raw, message) => {
      const before = await countProviders();
      const res = await postRaw(raw);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ non_field_errors: [message] });
      expect(await countProviders()).toBe(before);
    });

    it('should answer 415 when the body is not JSON', async () => {
      const before = await countProviders();
      const res = await seen(request(t.server).post(`${API}/providers/`).set(t.auth).set('Content-Type', 'text/plain').send('name=x'));
      expect(res.status).toBe(415);
      expect(res.body).toEqual({ detail: 'Unsupported media type "text/plain" in request.' });
      expect(await countProviders()).toBe(before);
    });

    it('should answer 413 with a detail when the body is larger than the limit', async () => {
      const before = await countProviders();
      const res = await post('/providers/', smtpProviderBody({ from_name: 'x'.repeat(20_000_000) }));
      expect(res.status).toBe(413);
      expect(res.body).toEqual({ detail: expect.any(String) });
      expect(await countProviders()).toBe(before);
    });
  });

  describe('GET /providers/ with a bad filter', () => {
    it.each([
      ['priority=7', { priority: ['"7" is not a valid choice.'] }],
      ['is_active=maybe', { is_active: ['Must be a valid boolean.'] }],
      ['provider_type=foo', { provider_type: ['"foo" is not a valid choice.'] }],
      ['health_status=sick', { health_status: ['"sick" is not a valid choice.'] }],
    ])('should answer 400 keyed by the filter when the query is ?%s', async (query, expected) => {
      await create();
      const res = await get(`/providers/?${query}`);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(expected);
    });
  });

  describe('ids that name no provider', () => {
    it.each([
      ['an unknown id', '2147483647'],
      ['a non-numeric id', 'abc'],
      ['id 0', '0'],
      ['a negative id', '-1'],
      ['an id beyond the integer column', '99999999999'],
    ])('should answer 404 Not found. when the path has %s', async (_, id) => {
      await create();
      for (const res of [
        await get(`/providers/${id}/`),
        await patch(`/providers/${id}/`, { name: 'ghost' }),
        await seen(request(t.server).delete(`${API}/providers/${id}/`).set(t.auth)),
      ]) {
        expect(res.status).toBe(404);
        expect(res.body).toEqual({ detail: 'Not found.' });
      }
    });

    it('should answer 404 Not found. when the route does not exist', async () => {
      const res = await get('/no-such-route/');
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ detail: 'Not found.' });
    });
  });

  describe('methods a route does not have', () => {
    it('should answer 405 with an Allow header when POSTing to a provider', async () => {
      const created = await create();
      const before = await get(`/providers/${created.id}/`);
      const res = await post(`/providers/${created.id}/`, { name: 'renamed' });
      expect(res.status).toBe(405);
      expect(res.body).toEqual({ detail: 'Method "POST" not allowed.' });
      const allow = String(res.headers.allow).split(/,\s*/);
      expect(allow).toEqual(expect.arrayContaining(['GET', 'PUT', 'PATCH', 'DELETE']));
      expect(allow).not.toContain('POST');
      expect((await get(`/providers/${created.id}/`)).body).toEqual(before.body);
    });

    it('should answer 405 with an Allow header when PATCHing the collection', async () => {
      const before = await countProviders();
      const res = await patch('/providers/', { name: 'everything' });
      expect(res.status).toBe(405);
      expect(res.body).toEqual({ detail: 'Method "PATCH" not allowed.' });
      const allow = String(res.headers.allow).split(/,\s*/);
      expect(allow).toEqual(expect.arrayContaining(['GET', 'POST']));
      expect(allow).not.toContain('PATCH');
      expect(await countProviders()).toBe(before);
    });
  });

  describe('collection routes beside /providers/{id}/', () => {
    it.each(['statistics', 'health_status'])('should not read /providers/%s/ as an id', async (name) => {
      for (const path of [`/providers/${name}/`, `/providers/${name}`]) {
        const res = await get(path);
        expect(res.status).toBe(200);
        expect(Array.isArray(res.body)).toBe(true);
      }
    });
  });
});
