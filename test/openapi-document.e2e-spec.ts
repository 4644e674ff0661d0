import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { API, startApp, type TestApp } from './support/app.js';
import { smtpProviderBody } from './support/factories.js';

type Parameter = { name: string; in: string; example?: unknown; examples?: unknown; schema?: { default?: unknown; example?: unknown } };
type Example = { summary?: string; value: unknown };
type Media = { schema?: unknown; example?: unknown; examples?: Record<string, Example> };
type Operation = {
  operationId: string;
  tags?: string[];
  parameters?: Parameter[];
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { description?: string; content?: Record<string, Media> }>;
};
type Document = {
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, { bearerFormat?: string }> };
};

const MUTATING = new Set(['post', 'put', 'patch', 'delete']);

/**
 * The OpenAPI document as Swagger UI reads it: what the Try-it-out form fills in by itself (a
 * parameter's example or default, the first named body example) must be harmless to execute,
 * and the documented answers must be the ones the service gives.
 */
describe('OpenAPI document', () => {
  let t: TestApp;
  let doc: Document;
  const operations: { method: string; path: string; op: Operation }[] = [];
  const op = (method: string, path: string) => doc.paths[`${API}${path}`][method];
  const bodyExamples = (o: Operation) => o.requestBody?.content['application/json'].examples ?? {};

  beforeAll(async () => {
    t = await startApp();
    const res = await request(t.server).get('/api/docs-json');
    expect(res.status).toBe(200);
    doc = res.body as Document;
    for (const [path, methods] of Object.entries(doc.paths))
      for (const [method, o] of Object.entries(methods)) operations.push({ method, path, op: o });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  it('should give no query parameter, and no path parameter, a value Swagger UI would fill in', () => {
    const prefilled = (p: Parameter) =>
      p.example !== undefined || p.examples !== undefined || p.schema?.default !== undefined || p.schema?.example !== undefined;
    const params = operations.flatMap(({ method, path, op: o }) =>
      (o.parameters ?? [])
        .filter((p) => p.in === 'query' || p.in === 'path')
        .map((p) => ({ at: `${method} ${path} ${p.in} ${p.name}`, p })),
    );
    // The filters and ids this is about are there at all.
    expect(params.map((x) => x.at)).toEqual(
      expect.arrayContaining([
        `get ${API}/providers query provider_type`,
        `get ${API}/messages query created_since`,
        `delete ${API}/providers/{id} path id`,
      ]),
    );
    expect(params.filter((x) => prefilled(x.p)).map((x) => x.at)).toEqual([]);
    const mutatingWithId = operations.filter(({ method, op: o }) => MUTATING.has(method) && o.parameters?.some((p) => p.in === 'path'));
    expect(mutatingWithId.length).toBeGreaterThanOrEqual(9);
  });

  it('should offer the create examples smtp and aws_ses, each valid for its type alone', async () => {
    const examples = bodyExamples(op('post', '/providers'));
    expect(Object.keys(examples)).toEqual(['smtp', 'aws_ses']);
    const smtp = examples.smtp.value as Record<string, unknown>;
    const ses = examples.aws_ses.value as Record<string, unknown>;
    expect(smtp.provider_type).toBe('smtp');
    expect(Object.keys(smtp).filter((k) => k.startsWith('aws_'))).toEqual([]);
    expect(ses.provider_type).toBe('aws_ses');
    expect(Object.keys(ses).filter((k) => k.startsWith('smtp_'))).toEqual([]);
    for (const body of [smtp, ses]) {
      const res = await request(t.server).post(`${API}/providers/`).set(t.auth).send(body);
      expect({ status: res.status, type: (res.body as { provider_type?: string }).provider_type }).toEqual({
        status: 201,
        type: body.provider_type,
      });
    }
  });

  it('should give PUT and PATCH a two-field example that leaves credentials and sender alone', async () => {
    for (const method of ['put', 'patch']) {
      const examples = Object.values(bodyExamples(op(method, '/providers/{id}')));
      expect(examples).toHaveLength(1);
      expect(Object.keys(examples[0].value as object)).toHaveLength(2);
    }
    const example = Object.values(bodyExamples(op('patch', '/providers/{id}')))[0].value as Record<string, unknown>;
    const created = (await request(t.server).post(`${API}/providers/`).set(t.auth).send(smtpProviderBody())).body as Record<
      string,
      unknown
    >;
    const res = await request(t.server)
      .patch(`${API}/providers/${String(created.id)}/`)
      .set(t.auth)
      .send(example);
    expect(res.status).toBe(200);
    const changed = Object.keys(res.body as object).filter(
      (k) => !['updated_at', 'priority_display'].includes(k) && JSON.stringify(res.body[k]) !== JSON.stringify(created[k]),
    );
    expect(changed.sort()).toEqual(Object.keys(example).sort());
  });

  it('should fill in no update_credentials example that changes a secret', () => {
    const [first] = Object.values(bodyExamples(op('post', '/providers/{id}/update_credentials')));
    expect(Object.keys(first.value as object).filter((k) => /password|secret/.test(k))).toEqual([]);
  });

  it('should address every example message to RFC 2606 domains only', () => {
    const addresses = JSON.stringify([
      bodyExamples(op('post', '/send')),
      bodyExamples(op('post', '/send/batch')),
      op('post', '/providers/{id}/test').requestBody,
      doc.components,
    ]).match(/[\w.+-]+@[\w-]+(\.[\w-]+)*/g);
    expect(addresses?.length).toBeGreaterThan(3);
    expect(addresses?.filter((a) => !/@([\w-]+\.)*(example\.(com|org|net)|[\w-]+\.example|example)$/.test(a))).toEqual([]);
  });

  it('should document the test route: a pure 200, the 400 failure, under one tag', () => {
    const test = op('post', '/providers/{id}/test');
    expect(test.tags).toEqual(['providers']);
    const ok = Object.values(test.responses['200'].content?.['application/json'].examples ?? {}).map((e) => e.value);
    expect(ok).toEqual([expect.objectContaining({ success: true, message_id: expect.any(String) })]);
    expect(ok[0]).not.toHaveProperty('error');
    const failures = Object.values(test.responses['400'].content?.['application/json'].examples ?? {}).map((e) => e.value);
    expect(failures).toEqual(
      expect.arrayContaining([
        {
          success: false,
          error: expect.stringMatching(/^SMTP Error: /),
          provider_name: expect.any(String),
          response_time: expect.any(Number),
        },
      ]),
    );
  });

  it('should describe every 2xx answer and list every operation under exactly one tag', () => {
    const undescribed = operations.flatMap(({ method, path, op: o }) =>
      Object.entries(o.responses)
        .filter(([status, r]) => /^2/.test(status) && !r.description?.trim())
        .map(([status]) => `${method} ${path} ${status}`),
    );
    expect(undescribed).toEqual([]);
    const tagged = operations.filter(({ op: o }) => o.tags?.length !== 1).map(({ method, path, op: o }) => `${method} ${path} ${o.tags}`);
    expect(tagged).toEqual([]);
    expect(new Set(operations.map(({ op: o }) => o.operationId)).size).toBe(operations.length);
  });

  it('should not call the bearer scheme a JWT', () => {
    const schemes = Object.values(doc.components.securitySchemes);
    expect(schemes.length).toBeGreaterThan(0);
    expect(schemes.filter((s) => /jwt/i.test(s.bearerFormat ?? ''))).toEqual([]);
  });

  it('should give 401, 403, 422 and 429 examples with the bodies the service answers', async () => {
    const examplesOf = (status: string) =>
      operations.flatMap(({ op: o }) => {
        const media = o.responses[status]?.content?.['application/json'];
        if (!media) return [];
        const values = Object.values(media.examples ?? {}).map((e) => e.value);
        return values.length ? values : [media.example ?? null];
      });
    for (const status of ['401', '403', '422', '429']) {
      const examples = examplesOf(status);
      expect({ status, any: examples.length > 0 }).toEqual({ status, any: true });
      expect(examples.filter((e) => JSON.stringify(e) === JSON.stringify({ detail: 'Not found.' }))).toEqual([]);
      // A 422 may also be keyed by field, as /send/ answers a message whose every recipient is suppressed.
      const fieldKeyed = (e: unknown) =>
        status === '422' &&
        typeof e === 'object' &&
        e !== null &&
        Object.values(e).every((v) => Array.isArray(v) && v.length > 0 && v.every((m) => typeof m === 'string'));
      expect(examples.filter((e) => typeof (e as { detail?: unknown } | null)?.detail !== 'string' && !fieldKeyed(e))).toEqual([]);
    }
    expect(examplesOf('422')).toContainEqual({ to: [expect.stringMatching(/^Every recipient is suppressed: /)] });

    // The documented 401s and 403 are what the guard says.
    const documented = (method: string, path: string, status: string) =>
      Object.values(op(method, path).responses[status].content?.['application/json'].examples ?? {}).map((e) => e.value);
    const noToken = await request(t.server).delete(`${API}/providers/1/`);
    const badToken = await request(t.server).delete(`${API}/providers/1/`).set('Authorization', 'Bearer no-such-key');
    const key = await request(t.server)
      .post(`${API}/api-keys/`)
      .set(t.auth)
      .send({ name: 'sender', scopes: ['send'] });
    const denied = await request(t.server)
      .delete(`${API}/providers/1/`)
      .set('Authorization', `Bearer ${(key.body as { key: string }).key}`);
    expect([noToken.status, badToken.status, denied.status]).toEqual([401, 401, 403]);
    expect(documented('delete', '/providers/{id}', '401')).toEqual(expect.arrayContaining([noToken.body, badToken.body]));
    expect(documented('delete', '/providers/{id}', '403')).toEqual([denied.body]);
  });
});
