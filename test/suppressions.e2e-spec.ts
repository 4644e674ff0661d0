import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { API, startApp, type TestApp } from './support/app.js';
import { deactivateAllProviders, fastSendingEnv, providerFor, waitForMessage } from './support/sending.js';
import { smtpServers, type ReceivedMessage, type TestSmtpServer } from './support/smtp-server.js';

const SUPPRESSIONS = `${API}/suppressions/`;

interface Suppression {
  id: number;
  email: string;
  reason: string;
  note: string;
  message_id: number | null;
  created_at: string;
}
interface Page {
  count: number;
  next: string | null;
  previous: string | null;
  results: Suppression[];
}

/** A fresh address for each call, so no test depends on what another suppressed. */
const address = (name = 'user', domain = 'example.com') => `${name}.${randomBytes(4).toString('hex')}@${domain}`;

describe('Suppression list', () => {
  let t: TestApp;
  const servers = smtpServers();
  const db = () => t.app.get(DataSource);
  const suppress = (body: Record<string, unknown>, auth: Record<string, string> = t.auth) =>
    request(t.server).post(SUPPRESSIONS).set(auth).send(body);
  const list = (query: Record<string, string | number> = {}, auth: Record<string, string> = t.auth) =>
    request(t.server).get(SUPPRESSIONS).query(query).set(auth);
  const keyWith = async (scopes: string[]): Promise<Record<string, string>> => {
    const res = await request(t.server)
      .post(`${API}/api-keys/`)
      .set(t.auth)
      .send({ name: scopes.join('+'), scopes })
      .expect(201);
    return { Authorization: `Bearer ${(res.body as { key: string }).key}` };
  };
  const messageRows = async (): Promise<number> => (await db().query('SELECT count(*)::int AS n FROM messages'))[0].n;

  beforeAll(async () => {
    // The outbox is read directly; no dispatcher delivers it (the endpoint inserted below is a placeholder).
    t = await startApp({ env: fastSendingEnv({ WEBHOOKS_ENABLED: 'false' }) });
  });
  afterAll(async () => {
    await servers.closeAll();
    await t.close();
  });

  describe('/suppressions/', () => {
    it('should add an address (201 with the row), list it, and remove it (204, then 404)', async () => {
      const email = address('bounced');
      const created = await suppress({ email, reason: 'manual', note: 'asked by phone' });
      expect(created.status).toBe(201);
      expect(created.body).toEqual({
        id: expect.any(Number),
        email,
        reason: 'manual',
        note: 'asked by phone',
        message_id: null,
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      });
      expect((await list({ email })).body).toMatchObject({ count: 1, next: null, previous: null, results: [created.body] });

      await request(t.server)
        .delete(`${SUPPRESSIONS}${encodeURIComponent(email)}/`)
        .set(t.auth)
        .expect(204);
      expect((await list({ email })).body).toMatchObject({ count: 0, results: [] });
      await request(t.server)
        .delete(`${SUPPRESSIONS}${encodeURIComponent(email)}/`)
        .set(t.auth)
        .expect(404, { detail: 'Not found.' });
    });

    it('should answer with and without the trailing slash, an unencoded @ too', async () => {
      const email = address();
      await request(t.server).post(`${API}/suppressions`).set(t.auth).send({ email, reason: 'complaint' }).expect(201);
      expect((await request(t.server).get(`${API}/suppressions`).query({ email }).set(t.auth).expect(200)).body.count).toBe(1);
      await request(t.server).delete(`${API}/suppressions/${email}`).set(t.auth).expect(204);
    });

    it('should compare addresses case-insensitively: filter, duplicate and delete', async () => {
      const email = address('Mixed.Case', 'Example.COM');
      await suppress({ email, reason: 'hard_bounce' }).expect(201);
      const found = (await list({ email: email.toLowerCase() })).body as Page;
      expect(found.results.map((r) => r.email)).toEqual([email]);
      expect((await list({ email: email.toUpperCase() })).body.count).toBe(1);

      await suppress({ email: email.toLowerCase(), reason: 'manual' }).expect(400, { email: ['This address is already suppressed.'] });
      expect((await list({ email })).body.results).toEqual([expect.objectContaining({ email, reason: 'hard_bounce' })]);

      await request(t.server)
        .delete(`${SUPPRESSIONS}${encodeURIComponent(email.toUpperCase())}/`)
        .set(t.auth)
        .expect(204);
      expect((await list({ email })).body.count).toBe(0);
    });

    it('should refuse bad input in the field-keyed shape', async () => {
      await suppress({ reason: 'manual' }).expect(400, { email: ['This field is required.'] });
      await suppress({ email: 'not an address', reason: 'spam' }).expect(400, {
        email: ['Enter a valid email address.'],
        reason: ['"spam" is not a valid choice.'],
      });
      await suppress({ email: address(), reason: 'manual', note: 'x'.repeat(1001) }).expect(400, {
        note: ['Ensure this field has no more than 1000 characters.'],
      });
      await list({ reason: 'soft_bounce' }).expect(400, { reason: ['"soft_bounce" is not a valid choice.'] });
      await list({ page_size: 0 }).expect(400, { page_size: ['Ensure this value is greater than or equal to 1.'] });
    });

    it('should filter by reason and paginate newest first with next and previous links', async () => {
      const complaints = [address('c1'), address('c2'), address('c3')];
      for (const email of complaints) await suppress({ email, reason: 'complaint' }).expect(201);
      await suppress({ email: address('m'), reason: 'manual' }).expect(201);

      const byReason = (await list({ reason: 'complaint', page_size: 200 })).body as Page;
      expect(byReason.results.every((r) => r.reason === 'complaint')).toBe(true);
      expect(byReason.results.map((r) => r.email).slice(0, 3)).toEqual([...complaints].reverse());

      const total: number = (await db().query('SELECT count(*)::int AS n FROM suppressions'))[0].n;
      const ids: number[] = (await db().query('SELECT id FROM suppressions ORDER BY id DESC')).map((r: { id: number }) => r.id);
      const first = (await list({ page_size: 2 })).body as Page;
      expect(first.count).toBe(total);
      expect(first.previous).toBeNull();
      expect(first.next).toMatch(/\/api\/email-provider\/suppressions\/\?page_size=2&page=2$/);
      const second = (await list({ page_size: 2, page: 2 })).body as Page;
      expect(second.previous).toMatch(/page=1$/);
      expect([...first.results, ...second.results].map((r) => r.id)).toEqual(ids.slice(0, 4));
      const last = (await list({ page_size: 2, page: Math.ceil(total / 2) })).body as Page;
      expect(last.next).toBeNull();
      expect((await list({ page_size: 2, page: Math.ceil(total / 2) + 1 })).body.results).toEqual([]);
    });

    it('should ask for a token (401) and providers:read to list, providers:write to change (403)', async () => {
      const email = address();
      await suppress({ email, reason: 'manual' }).expect(201);
      const target = `${SUPPRESSIONS}${encodeURIComponent(email)}/`;
      await request(t.server).get(SUPPRESSIONS).expect(401);
      await request(t.server).post(SUPPRESSIONS).send({ email: address(), reason: 'manual' }).expect(401);
      await request(t.server).delete(target).expect(401);

      const sender = await keyWith(['send']);
      const reader = await keyWith(['providers:read']);
      const writer = await keyWith(['providers:write']);
      const denied = { detail: 'You do not have permission to perform this action.' };
      await list({}, sender).expect(403, denied);
      await suppress({ email: address(), reason: 'manual' }, reader).expect(403, denied);
      await request(t.server).delete(target).set(reader).expect(403, denied);
      expect((await list({ email }, reader).expect(200)).body.count).toBe(1);

      await suppress({ email: address(), reason: 'manual' }, writer).expect(201);
      await request(t.server).delete(target).set(writer).expect(204);
    });
  });

  describe('at /send/ and /send/batch/', () => {
    const send = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
      request(t.server).post(`${API}/send/`).set(t.auth).set(headers).send(body);
    const batch = (messages: unknown[]) => request(t.server).post(`${API}/send/batch/`).set(t.auth).send({ messages });
    const eventsOf = async (messageId: number): Promise<{ data: Record<string, unknown>; deliveries: number }[]> =>
      db().query(
        `SELECT e.data, (SELECT count(*)::int FROM webhook_deliveries d WHERE d.event_id = e.id) AS deliveries
           FROM webhook_events e WHERE e.type = 'email.suppressed' AND (e.data->>'id')::bigint = $1`,
        [messageId],
      );
    /** The message with this Message-ID as the server received it (messages queued by earlier tests may arrive too). */
    const receivedWith = async (sink: TestSmtpServer, messageId: string): Promise<ReceivedMessage> => {
      for (let n = 1; ; n++) {
        const got = (await sink.waitForMessages(n)).find((m) => m.parsed.messageId === messageId);
        if (got) return got;
      }
    };
    const suppressedEvents = async (): Promise<number> =>
      (await db().query(`SELECT count(*)::int AS n FROM webhook_events WHERE type = 'email.suppressed'`))[0].n;

    beforeAll(async () => {
      await db().query(`INSERT INTO webhooks (url, events, secret_encrypted) VALUES ('http://127.0.0.1:9/', '["email.suppressed"]', 'x')`);
    });
    afterAll(async () => {
      await db().query(`DELETE FROM webhooks`);
    });
    beforeEach(async () => {
      await deactivateAllProviders(t);
    });
    afterEach(async () => {
      await servers.closeAll();
    });

    it('should deliver to the other recipients only, list the suppressed one, and raise email.suppressed', async () => {
      const sink = await servers.start();
      await providerFor(t, sink);
      const [kept, cc, bounced, complained] = [address('kept'), address('cc'), address('Bounced'), address('complained')];
      await suppress({ email: bounced, reason: 'hard_bounce' }).expect(201);
      await suppress({ email: complained, reason: 'complaint' }).expect(201);

      const asWritten = bounced.toUpperCase();
      const res = await send({ to: [kept, asWritten], cc: [cc], bcc: [complained], subject: 'Hi', text: 'Body', wait: true });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        status: 'sent',
        to: [kept],
        cc: [cc],
        bcc: [],
        suppressed_recipients: [
          { address: asWritten, reason: 'hard_bounce' },
          { address: complained, reason: 'complaint' },
        ],
      });
      const got = await receivedWith(sink, res.body.message_id);
      expect(got.envelope.to.sort()).toEqual([kept, cc].sort());
      expect(got.parsed.text?.trim()).toBe('Body');
      expect(got.raw.toString('utf8').toLowerCase()).not.toContain(bounced.toLowerCase());

      const shown = await request(t.server).get(`${API}/messages/${res.body.id}/`).set(t.auth).expect(200);
      expect(shown.body.suppressed_recipients).toEqual(res.body.suppressed_recipients);

      expect(await eventsOf(res.body.id)).toEqual([
        {
          data: {
            id: res.body.id,
            message_id: res.body.message_id,
            to: [kept],
            cc: [cc],
            bcc: [],
            suppressed_recipients: res.body.suppressed_recipients,
          },
          deliveries: 1,
        },
      ]);
    });

    it('should raise nothing for a message without a suppressed recipient, nor for an idempotent replay', async () => {
      const plain = await send({ to: address(), subject: 'Hi', text: 'Body' }).expect(202);
      expect(plain.body.suppressed_recipients).toEqual([]);
      expect(await eventsOf(plain.body.id)).toEqual([]);

      const bounced = address();
      await suppress({ email: bounced, reason: 'hard_bounce' }).expect(201);
      const body = { to: [address(), bounced], subject: 'Hi', text: 'Body' };
      const key = { 'Idempotency-Key': `supp-${randomBytes(6).toString('hex')}` };
      const first = await send(body, key).expect(202);
      expect(first.body.suppressed_recipients).toEqual([{ address: bounced, reason: 'hard_bounce' }]);
      const events = await suppressedEvents();
      const rows = await messageRows();

      const replay = await send(body, key).expect(202);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toMatchObject({ id: first.body.id, suppressed_recipients: first.body.suppressed_recipients });
      expect([await suppressedEvents(), await messageRows()]).toEqual([events, rows]);
      expect(await eventsOf(first.body.id)).toHaveLength(1);

      // Still the original after its last recipient was suppressed too: the request hash is of the request as sent.
      await suppress({ email: body.to[0], reason: 'manual' }).expect(201);
      const late = await send(body, key).expect(202);
      expect([late.body.id, late.headers['idempotent-replayed']]).toEqual([first.body.id, 'true']);
      await send({ ...body, subject: 'Changed' }, key).expect(422, {
        detail: 'This Idempotency-Key was already used with a different request.',
      });
      expect([await suppressedEvents(), await messageRows()]).toEqual([events, rows]);
    });

    it('should answer 422 naming the fields when every recipient is suppressed, and store nothing', async () => {
      const [a, b, c] = [address('a'), address('b'), address('c')];
      for (const email of [a, b, c]) await suppress({ email, reason: 'manual' }).expect(201);
      const rows = await messageRows();
      const events = await suppressedEvents();
      await send({ to: [a, b], cc: c, subject: 'Hi', text: 'Body' }).expect(422, {
        to: [`Every recipient is suppressed: ${a}, ${b}`],
        cc: [`Every recipient is suppressed: ${c}`],
      });
      await send({ to: a, subject: 'Hi', text: 'Body' }, { 'Idempotency-Key': `none-${randomBytes(6).toString('hex')}` }).expect(422, {
        to: [`Every recipient is suppressed: ${a}`],
      });
      expect([await messageRows(), await suppressedEvents()]).toEqual([rows, events]);
    });

    it('should screen every message of a batch with its own result: 202 with the list, 422 when none is left', async () => {
      const sink = await servers.start();
      await providerFor(t, sink);
      const [bounced, complained, kept] = [address('b'), address('c'), address('kept')];
      await suppress({ email: bounced, reason: 'hard_bounce' }).expect(201);
      await suppress({ email: complained, reason: 'complaint' }).expect(201);
      const rows = await messageRows();

      const res = await batch([
        { to: [kept, bounced], subject: 'one', text: 'Body' },
        { to: [complained], bcc: [bounced], subject: 'two', text: 'Body' },
        { to: [kept], subject: 'three', text: 'Body' },
        { to: 'not an address', subject: 'four', text: 'Body' },
      ]).expect(200);
      expect(res.body.accepted).toBe(2);
      expect(res.body.results.map((r: { status: number }) => r.status)).toEqual([202, 422, 202, 400]);
      expect(res.body.results[0].message).toMatchObject({
        to: [kept],
        suppressed_recipients: [{ address: bounced, reason: 'hard_bounce' }],
      });
      expect(res.body.results[1]).toEqual({
        index: 1,
        status: 422,
        errors: { to: [`Every recipient is suppressed: ${complained}`], bcc: [`Every recipient is suppressed: ${bounced}`] },
      });
      expect(res.body.results[2].message.suppressed_recipients).toEqual([]);
      expect(await messageRows()).toBe(rows + 2);
      expect((await eventsOf(res.body.results[0].message.id)).map((e) => e.data.suppressed_recipients)).toEqual([
        [{ address: bounced, reason: 'hard_bounce' }],
      ]);
      expect(await eventsOf(res.body.results[2].message.id)).toEqual([]);

      // Messages queued by earlier tests (no provider was active) may reach this server too: only this batch's count.
      const stored = [res.body.results[0].message, res.body.results[2].message] as { id: number; message_id: string }[];
      for (const m of stored) await waitForMessage(t, m.id);
      const ids = new Set(stored.map((m) => m.message_id));
      expect(sink.received.filter((m) => ids.has(m.parsed.messageId ?? '')).flatMap((m) => m.envelope.to)).toEqual([kept, kept]);
    });

    it('should answer a batch replay with the original message even when its recipients were all suppressed since', async () => {
      const [kept, bounced] = [address('kept'), address('b')];
      await suppress({ email: bounced, reason: 'hard_bounce' }).expect(201);
      const key = `batch-supp-${randomBytes(6).toString('hex')}`;
      const item = { to: [kept, bounced], subject: 'Hi', text: 'Body', idempotency_key: key };
      const first = (await batch([item]).expect(200)).body.results[0];
      expect(first.status).toBe(202);
      await suppress({ email: kept, reason: 'manual' }).expect(201);
      const rows = await messageRows();

      const again = (await batch([item, { ...item, subject: 'Changed' }, { ...item, idempotency_key: `${key}-new` }]).expect(200)).body;
      expect(again.results).toEqual([
        { index: 0, status: 200, message: expect.objectContaining({ id: first.message.id, to: [kept] }) },
        { index: 1, status: 422, errors: { detail: 'This Idempotency-Key was already used with a different request.' } },
        { index: 2, status: 422, errors: { to: [`Every recipient is suppressed: ${kept}, ${bounced}`] } },
      ]);
      expect(await messageRows()).toBe(rows);
    });

    it('should let a provider test send reach a suppressed address: the operator chose it', async () => {
      const sink = await servers.start();
      const p = await providerFor(t, sink);
      const email = address('ops');
      await suppress({ email, reason: 'complaint' }).expect(201);
      const res = await request(t.server).post(`${API}/providers/${p.id}/test/`).set(t.auth).send({ test_email: email });
      expect(res.status).toBe(200);
      expect(res.body.success).toBe(true);
      expect((await receivedWith(sink, res.body.message_id)).envelope.to).toEqual([email]);
    });
  });
});
