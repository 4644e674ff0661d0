import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { API, startApp, type TestApp } from './support/app.js';
import { deactivateAllProviders, fastSendingEnv, providerFor } from './support/sending.js';
import { smtpServers } from './support/smtp-server.js';

const BATCH = `${API}/send/batch/`;
const MISMATCH = { detail: 'This Idempotency-Key was already used with a different request.' };

interface Result {
  index: number;
  status: number;
  message?: { id: number; message_id: string; subject: string; to: string[]; status: string };
  errors?: Record<string, unknown>;
}
interface BatchBody {
  count: number;
  accepted: number;
  results: Result[];
}

describe('POST /send/batch/', () => {
  let t: TestApp;
  const servers = smtpServers();
  const db = () => t.app.get(DataSource);
  const batch = (messages: unknown, auth: Record<string, string> = t.auth) =>
    request(t.server)
      .post(BATCH)
      .set(auth)
      .send({ messages } as object);
  const message = (overrides: Record<string, unknown> = {}) => ({
    to: ['alice@example.com'],
    subject: 'Hello',
    text: 'Body',
    ...overrides,
  });
  const rowCount = async (): Promise<number> => (await db().query('SELECT count(*)::int AS n FROM messages'))[0].n;

  beforeAll(async () => {
    t = await startApp({ env: fastSendingEnv() });
    await deactivateAllProviders(t);
  });
  afterAll(async () => {
    await t.close();
    await servers.closeAll();
  });

  it('should store the valid messages and answer each invalid one with the field errors /send/ gives it, in order', async () => {
    const invalid = [
      message({ to: ['ok@example.com', 'not an address'] }),
      message({ text: undefined }),
      message({ headers: { 'Message-ID': '<x@y>' }, subject: undefined }),
      message({ provider_id: 999_999 }),
      message({ subject: 'NUL \u0000 here' }),
    ];
    const valid = [message({ subject: 'first' }), message({ to: 'bob@example.com', subject: 'second', wait: true })];
    const before = await rowCount();
    const res = await batch([valid[0], ...invalid, valid[1]]);
    expect(res.status).toBe(200);
    const body = res.body as BatchBody;
    expect([body.count, body.accepted]).toEqual([7, 2]);
    expect(body.results.map((r) => [r.index, r.status])).toEqual([
      [0, 202],
      [1, 400],
      [2, 400],
      [3, 400],
      [4, 400],
      [5, 400],
      [6, 202],
    ]);
    for (const [i, item] of invalid.entries()) {
      const single = await request(t.server).post(`${API}/send/`).set(t.auth).send(item);
      expect(single.status).toBe(400);
      expect(body.results[i + 1]).toEqual({ index: i + 1, status: 400, errors: single.body });
    }
    expect(body.results[4].errors).toEqual({ provider_id: ['Invalid pk "999999" - object does not exist.'] });
    expect(body.results[0].message).toMatchObject({ subject: 'first', to: ['alice@example.com'], status: 'queued' });
    expect(body.results[6].message).toMatchObject({ subject: 'second', to: ['bob@example.com'], status: 'queued' });
    // The same message object as /send/ and GET /messages/{id}/ (whose attempts and feedback aside, only the worker's fields may have moved on).
    const {
      attempts: _attempts,
      feedback: _feedback,
      ...stored
    } = (await request(t.server).get(`${API}/messages/${body.results[0].message!.id}/`).set(t.auth)).body as Record<string, unknown>;
    expect(Object.keys(body.results[0].message!).sort()).toEqual(Object.keys(stored).sort());
    const { id, message_id, subject, to, created_at } = stored;
    expect(body.results[0].message).toMatchObject({ id, message_id, subject, to, created_at });
    expect(await rowCount()).toBe(before + 2);
  });

  it('should keep idempotency per message: replays answer 200 with the original, a changed request 422', async () => {
    const k = `batch-${Date.now()}`;
    const messages = [
      message({ subject: 'a', idempotency_key: `${k}-a` }),
      message({ subject: 'b', idempotency_key: `${k}-b` }),
      message({ subject: 'no key' }),
      // Two messages of one batch with one key: the first is stored, the second is its replay...
      message({ subject: 'twin', idempotency_key: `${k}-twin` }),
      message({ subject: 'twin', idempotency_key: `${k}-twin` }),
      // ...or, with a different request, refused.
      message({ subject: 'clash', idempotency_key: `${k}-clash` }),
      message({ subject: 'clash, changed', idempotency_key: `${k}-clash` }),
    ];
    const first = (await batch(messages)).body as BatchBody;
    expect(first.results.map((r) => r.status)).toEqual([202, 202, 202, 202, 200, 202, 422]);
    expect(first.accepted).toBe(5);
    expect(first.results[4].message!.id).toBe(first.results[3].message!.id);
    expect(first.results[6]).toEqual({ index: 6, status: 422, errors: MISMATCH });

    const before = await rowCount();
    const again = (await batch([messages[0], { ...messages[1], subject: 'b, changed' }, messages[2]])).body as BatchBody;
    expect(again.results.map((r) => r.status)).toEqual([200, 422, 202]);
    expect(again.accepted).toBe(1);
    expect(again.results[0].message).toMatchObject({
      id: first.results[0].message!.id,
      message_id: first.results[0].message!.message_id,
      subject: 'a',
    });
    expect(await rowCount()).toBe(before + 1);

    // The keys are the same namespace as /send/'s Idempotency-Key header, for the same API key.
    const viaSend = await request(t.server)
      .post(`${API}/send/`)
      .set(t.auth)
      .set('Idempotency-Key', `${k}-a`)
      .send(message({ subject: 'a' }));
    expect([viaSend.status, viaSend.headers['idempotent-replayed'], viaSend.body.id]).toEqual([202, 'true', first.results[0].message!.id]);
    const sent = await request(t.server)
      .post(`${API}/send/`)
      .set(t.auth)
      .set('Idempotency-Key', `${k}-header`)
      .send(message({ headers: { 'X-A': '1' } }));
    const replays = (
      await batch([
        message({ headers: { 'X-A': '1' }, idempotency_key: `${k}-header` }),
        message({ headers: { 'X-A': '2' }, idempotency_key: `${k}-header` }),
      ])
    ).body as BatchBody;
    expect(replays.results.map((r) => [r.status, r.message?.id])).toEqual([
      [200, sent.body.id],
      [422, undefined],
    ]);
  });

  it('should refuse an idempotency_key that is not 1 to 255 printable ASCII characters, for that message alone', async () => {
    const res = (
      await batch([
        message({ idempotency_key: 'has space' }),
        message({ idempotency_key: 'x'.repeat(256) }),
        message({ idempotency_key: 7 }),
        message({ idempotency_key: null }),
      ])
    ).body as BatchBody;
    const bad = { idempotency_key: ['Use 1 to 255 printable ASCII characters.'] };
    expect(res.results.map((r) => [r.status, r.errors])).toEqual([
      [400, bad],
      [400, bad],
      [400, bad],
      [202, undefined],
    ]);
  });

  it.each([
    ['a list', [message()], { non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] }],
    ['a string', '"hello"', { non_field_errors: ['Invalid data. Expected a dictionary, but got str.'] }],
    ['null', 'null', { non_field_errors: ['No data provided'] }],
    ['missing', undefined, { messages: ['This field is required.'] }],
    ['an object without messages', {}, { messages: ['This field is required.'] }],
    ['messages: null', { messages: null }, { messages: ['This field may not be null.'] }],
    ['messages: an object', { messages: { 0: message() } }, { messages: ['Expected a list of items but got type "dict".'] }],
    ['messages: a string', { messages: 'x' }, { messages: ['Expected a list of items but got type "str".'] }],
    ['messages: empty', { messages: [] }, { messages: ['This list may not be empty.'] }],
    [
      '501 messages',
      { messages: Array.from({ length: 501 }, () => message()) },
      { messages: ['Ensure this field has no more than 500 elements.'] },
    ],
  ])('should answer 400 and store nothing when the body is %s', async (_, body, errors) => {
    const before = await rowCount();
    const req = request(t.server).post(BATCH).set(t.auth);
    const res =
      typeof body === 'string' ? await req.set('Content-Type', 'application/json').send(body) : body ? await req.send(body) : await req;
    expect([res.status, res.body]).toEqual([400, errors]);
    expect(await rowCount()).toBe(before);
  });

  it('should answer every message of any shape with 202 or 400, never fail the batch (fuzz)', async () => {
    const garbage = fc.oneof(
      fc.constant(null),
      fc.string(),
      fc.jsonValue(),
      fc.dictionary(
        fc.constantFrom(
          ...'to cc subject text html headers attachments provider_id send_at idempotency_key __proto__ constructor'.split(' '),
        ),
        fc.jsonValue(),
      ),
      fc.record({ to: fc.oneof(fc.emailAddress(), fc.array(fc.string())), subject: fc.string(), text: fc.string() }),
      fc.constant(JSON.parse(`{"to": ${'['.repeat(200)}${']'.repeat(200)}, "subject": "deep", "text": "x"}`)),
      fc.constant({ to: 'a@example.com', subject: '\ud800', text: 'lone surrogate' }),
      fc.constant({ to: 'a@example.com', subject: 's', text: 't', headers: { 'X-\u0000': 'v' } }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(garbage, { minLength: 1, maxLength: 40 }), async (messages) => {
        const res = await batch(messages);
        expect(res.status).toBe(200);
        const body = res.body as BatchBody;
        expect(body.results.map((r) => r.index)).toEqual(messages.map((_, i) => i));
        for (const r of body.results) {
          expect([202, 400]).toContain(r.status);
          if (r.status === 400)
            for (const list of Object.values(r.errors ?? {})) expect((list as unknown[]).every((m) => typeof m === 'string')).toBe(true);
        }
      }),
      { numRuns: 15 },
    );
  });

  it('should need the send scope', async () => {
    const key = async (scopes: string[]) =>
      `Bearer ${(await request(t.server).post(`${API}/api-keys/`).set(t.auth).send({ name: 'k', scopes })).body.key}`;
    const reader = { Authorization: await key(['providers:read']) };
    const sender = { Authorization: await key(['send']) };
    expect(
      (
        await request(t.server)
          .post(BATCH)
          .send({ messages: [message()] })
      ).status,
    ).toBe(401);
    const refused = await batch([message()], reader);
    expect([refused.status, refused.body]).toEqual([403, { detail: 'You do not have permission to perform this action.' }]);
    expect((await batch([message()], sender)).status).toBe(200);
    expect(
      (
        await request(t.server)
          .post(`${API}/send/batch`)
          .set(sender)
          .send({ messages: [message()] })
      ).status,
    ).toBe(200);
  });

  it('should be in the OpenAPI document with a two-message example request and an example response', async () => {
    const doc = (await request(t.server).get('/api/docs-json')).body;
    const op = doc.paths[`${API}/send/batch`].post;
    const [example] = Object.values(op.requestBody.content['application/json'].examples) as { value: { messages: unknown[] } }[];
    expect(example.value.messages).toHaveLength(2);
    const [answer] = Object.values(op.responses['200'].content['application/json'].examples) as { value: BatchBody }[];
    expect(answer.value.results.map((r) => r.status)).toEqual([202, 400]);
    expect(doc.components.schemas.SendBatchItemDto.properties).toHaveProperty('idempotency_key');
    expect(doc.components.schemas.SendBatchItemDto.properties).not.toHaveProperty('wait');
  });

  it('should store 500 messages in one request and deliver each once', async () => {
    const sink = await servers.start();
    await providerFor(t, sink);
    const messages = Array.from({ length: 500 }, (_, i) => message({ to: [`r${i}@example.com`], subject: `bulk ${i}` }));
    const res = await batch(messages);
    expect(res.status).toBe(200);
    const body = res.body as BatchBody;
    expect([body.count, body.accepted]).toEqual([500, 500]);
    expect(body.results.every((r, i) => r.status === 202 && r.message?.subject === `bulk ${i}`)).toBe(true);
    const ids = new Set(body.results.map((r) => r.message!.message_id));
    expect(ids.size).toBe(500);

    // Messages of earlier tests may be delivered too: count those of this batch.
    const deadline = Date.now() + 60_000;
    const ours = () => sink.received.filter((m) => ids.has(m.parsed.messageId ?? ''));
    while (ours().length < 500 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const received = ours();
    expect(received).toHaveLength(500);
    expect(new Set(received.map((m) => m.parsed.messageId)).size).toBe(500);
    const byId = new Map(body.results.map((r) => [r.message!.message_id, r.message!]));
    for (const m of received) {
      const sent = byId.get(m.parsed.messageId!)!;
      expect([m.parsed.subject, m.envelope.to]).toEqual([sent.subject, sent.to]);
    }
  });
});
