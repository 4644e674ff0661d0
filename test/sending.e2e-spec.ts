import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { API, startApp, type TestApp } from './support/app.js';
import { deactivateAllProviders, fastSendingEnv, providerFor, waitForMessage, type MessageBody } from './support/sending.js';
import { closedPort, smtpServers } from './support/smtp-server.js';

describe('POST /send/ and delivery with failover (real SMTP servers on loopback)', () => {
  let t: TestApp;
  const servers = smtpServers();
  const server = servers.start;
  const send = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    request(t.server).post(`${API}/send/`).set(t.auth).set(headers).send(body);
  const message = (overrides: Record<string, unknown> = {}) => ({
    to: 'alice@example.com',
    subject: 'Hello',
    text: 'Plain body',
    ...overrides,
  });

  beforeAll(async () => {
    t = await startApp({ env: fastSendingEnv({ SEND_MAX_ATTACHMENT_BYTES: '4096' }) });
  });
  beforeEach(async () => {
    await deactivateAllProviders(t);
  });
  afterEach(async () => {
    await servers.closeAll();
  });
  afterAll(async () => {
    await t.close();
  });

  it('should store the message, answer 202, and deliver one copy with its headers, bodies and attachment', async () => {
    const sink = await server();
    const p = await providerFor(t, sink, { from_email: 'noreply@example.com', from_name: 'Example Co', reply_to: 'help@example.com' });
    const res = await send(
      message({
        to: ['alice@example.com', 'bob@example.com'],
        cc: 'carol@example.com',
        bcc: ['dave@example.com'],
        html: '<p>HTML body</p>',
        headers: { 'X-Campaign': 'spring' },
        attachments: [{ filename: 'hello.txt', content: Buffer.from('attached text').toString('base64'), content_type: 'text/plain' }],
      }),
    );
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'queued', subject: 'Hello', to: ['alice@example.com', 'bob@example.com'] });
    expect(res.body.message_id).toMatch(/^<[0-9a-f-]+@mail\.test\.local>$/);

    const done = await waitForMessage(t, res.body.id);
    expect(done).toMatchObject({ status: 'sent', provider_id: p.id, outcome_uncertain: false });
    expect(done.attempts).toEqual([expect.objectContaining({ provider_id: p.id, outcome: 'accepted' })]);

    const [got] = await sink.waitForMessages(1);
    expect(sink.received).toHaveLength(1);
    expect(got.envelope.from).toBe('noreply@example.com');
    expect(got.envelope.to.sort()).toEqual(['alice@example.com', 'bob@example.com', 'carol@example.com', 'dave@example.com']);
    expect(got.parsed.messageId).toBe(res.body.message_id);
    expect(got.parsed.subject).toBe('Hello');
    expect(got.parsed.text?.trim()).toBe('Plain body');
    expect(got.parsed.html).toContain('<p>HTML body</p>');
    expect(got.parsed.from?.value).toEqual([{ address: 'noreply@example.com', name: 'Example Co' }]);
    expect(got.parsed.replyTo?.value[0].address).toBe('help@example.com');
    expect(got.parsed.headers.get('x-campaign')).toBe('spring');
    expect(got.parsed.headers.get('bcc')).toBeUndefined();
    expect(got.parsed.attachments.map((a) => [a.filename, a.contentType, a.content.toString()])).toEqual([
      ['hello.txt', 'text/plain', 'attached text'],
    ]);
  });

  it('should answer 200 with the final state when wait is true', async () => {
    const sink = await server();
    await providerFor(t, sink);
    const res = await send(message({ wait: true }));
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('sent');
    expect(res.body.attempts).toHaveLength(1);
    expect(sink.received).toHaveLength(1);
  });

  it('should fail over to the next provider when the primary refuses connections, and count the failover', async () => {
    const sink = await server();
    const primary = await providerFor(t, { host: '127.0.0.1', port: await closedPort() }, { priority: 1 });
    const secondary = await providerFor(t, sink, { priority: 2 });
    const res = await send(message({ wait: true }));
    expect(res.status).toBe(200);
    expect(res.body.provider_id).toBe(secondary.id);
    expect((res.body as MessageBody).attempts?.map((a) => [a.provider_id, a.outcome])).toEqual([
      [primary.id, 'provider_failure'],
      [secondary.id, 'accepted'],
    ]);
    expect(sink.received).toHaveLength(1);
    const logLine = t.logs.lines.find((l) => l.includes('failover from') && l.includes(primary.name) && l.includes(secondary.name));
    expect(logLine).toBeDefined();
    expect(JSON.parse(logLine as string).level).toBe(40);
    const stats = (await request(t.server).get(`${API}/providers/statistics/`).set(t.auth).expect(200)).body as {
      provider_id: number;
      failovers: { to_provider_id: number; count: number }[];
      success_rate: number | null;
    }[];
    const row = stats.find((s) => s.provider_id === primary.id);
    expect(row?.failovers).toEqual([expect.objectContaining({ to_provider_id: secondary.id, count: 1 })]);
    expect(row?.success_rate).toBe(0);
    expect(stats.find((s) => s.provider_id === secondary.id)?.success_rate).toBe(100);
  });

  it('should use the default provider first, whatever its priority', async () => {
    const a = await server();
    const b = await server();
    await providerFor(t, a, { priority: 1 });
    const preferred = await providerFor(t, b, { priority: 3, is_default: true });
    const res = await send(message({ wait: true }));
    expect(res.body.provider_id).toBe(preferred.id);
    expect(b.received).toHaveLength(1);
    expect(a.received).toHaveLength(0);
  });

  it('should skip a primary at its daily limit and send through the secondary', async () => {
    const primarySink = await server();
    const sink = await server();
    const primary = await providerFor(t, primarySink, { priority: 1, daily_limit: 1 });
    const secondary = await providerFor(t, sink, { priority: 2 });
    expect((await send(message({ wait: true }))).body.provider_id).toBe(primary.id);
    const second = await send(message({ wait: true }));
    expect(second.body.provider_id).toBe(secondary.id);
    expect(primarySink.received).toHaveLength(1);
    expect(sink.received).toHaveLength(1);
    const detail = (await request(t.server).get(`${API}/providers/${primary.id}/`).set(t.auth)).body;
    expect(detail.emails_sent_today).toBe(1);
  });

  it('should keep the message waiting while every provider is down, and deliver it once one comes back', async () => {
    const sink = await server({ faults: { onConnect: 'refuse-421' } });
    await providerFor(t, sink);
    const res = await send(message());
    const waiting = await waitForMessage(t, res.body.id, (m) => m.status === 'queued' && (m.attempts?.length ?? 0) >= 1);
    expect(waiting.last_error).toContain('421');
    sink.setFaults({});
    const done = await waitForMessage(t, res.body.id);
    expect(done.status).toBe('sent');
    expect(sink.received).toHaveLength(1);
  });

  it('should fail a message every recipient of which is refused with 5xx, without trying other providers', async () => {
    const rejecting = await server({ faults: { onRcpt: () => ({ code: 550, message: 'No such user' }) } });
    const other = await server();
    await providerFor(t, rejecting, { priority: 1 });
    await providerFor(t, other, { priority: 2 });
    const res = await send(message({ wait: true }));
    expect(res.status).toBe(502);
    expect(res.body.status).toBe('failed');
    expect(res.body.last_error).toContain('550');
    expect((res.body as MessageBody).attempts?.map((a) => a.outcome)).toEqual(['message_rejected']);
    expect(other.received).toHaveLength(0);
  });

  it('should fail a message the server refuses at DATA with 5xx, without trying other providers', async () => {
    const rejecting = await server({ faults: { onData: 'reject-550' } });
    const other = await server();
    await providerFor(t, rejecting, { priority: 1 });
    await providerFor(t, other, { priority: 2 });
    const res = await send(message({ wait: true }));
    expect(res.status).toBe(502);
    expect(other.received).toHaveLength(0);
  });

  it('should send to the recipients accepted and record the ones refused when only some are refused', async () => {
    const sink = await server({
      faults: { onRcpt: (a) => (a === 'ghost@example.com' ? { code: 550, message: 'No such user' } : undefined) },
    });
    await providerFor(t, sink);
    const res = await send(message({ to: ['alice@example.com', 'ghost@example.com'], wait: true }));
    expect(res.status).toBe(200);
    expect(res.body.rejected_recipients).toEqual([expect.objectContaining({ address: 'ghost@example.com', smtp_code: 550 })]);
    expect(sink.received[0].envelope.to).toEqual(['alice@example.com']);
  });

  it.each([
    // Over STARTTLS: a password never goes in clear (SMTP_ALLOW_PLAINTEXT_AUTH is off).
    [
      'a 535 to AUTH',
      { starttls: true, auth: { user: 'u', pass: 'right' } },
      { smtp_use_tls: true, smtp_username: 'u', smtp_password: 'wrong' },
    ],
    ['a 450 to RCPT', { faults: { onRcpt: () => ({ code: 450, message: 'Mailbox busy' }) } }, {}],
    ['a 421 greeting', { faults: { onConnect: 'refuse-421' as const } }, {}],
    ['a greeting that never comes', { faults: { onConnect: 'never-greet' as const } }, {}],
    ['no STARTTLS when the provider requires it', {}, { smtp_use_tls: true }],
  ])('should fail over when the primary answers with %s', async (_, serverOptions, providerOverrides) => {
    const bad = await server(serverOptions);
    const sink = await server();
    const primary = await providerFor(t, bad, { priority: 1, ...providerOverrides });
    const secondary = await providerFor(t, sink, { priority: 2 });
    const res = await send(message({ wait: true }));
    expect(res.status).toBe(200);
    expect(res.body.provider_id).toBe(secondary.id);
    expect((res.body as MessageBody).attempts?.[0]).toMatchObject({ provider_id: primary.id, outcome: 'provider_failure' });
    expect(sink.received).toHaveLength(1);
  });

  it('should not fail over when the connection drops after DATA, but retry with the same Message-ID', async () => {
    const flaky = await server({ faults: { onData: 'disconnect-after-data' } });
    const other = await server();
    const primary = await providerFor(t, flaky, { priority: 1 });
    await providerFor(t, other, { priority: 2 });
    const res = await send(message());
    const uncertain = await waitForMessage(t, res.body.id, (m) => m.outcome_uncertain);
    expect(uncertain.status).not.toBe('failed');
    flaky.setFaults({});
    const done = await waitForMessage(t, res.body.id);
    expect(done).toMatchObject({ status: 'sent', provider_id: primary.id, outcome_uncertain: true });
    expect(done.attempts?.map((a) => a.outcome)).toEqual(['uncertain', 'accepted']);
    expect(other.received).toHaveLength(0);
    expect(flaky.received.map((m) => m.parsed.messageId)).toEqual([res.body.message_id, res.body.message_id]);
  });

  it('should send through the pinned provider only', async () => {
    const a = await server();
    const b = await server();
    await providerFor(t, a, { priority: 1 });
    const pinned = await providerFor(t, b, { priority: 3 });
    const res = await send(message({ provider_id: pinned.id, wait: true }));
    expect(res.body).toMatchObject({ status: 'sent', provider_id: pinned.id, pinned_provider_id: pinned.id });
    expect(a.received).toHaveLength(0);
  });

  it('should hold a scheduled message until send_at', async () => {
    const sink = await server();
    await providerFor(t, sink);
    const sendAt = new Date(Date.now() + 1500).toISOString();
    const res = await send(message({ send_at: sendAt }));
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('scheduled');
    await new Promise((r) => setTimeout(r, 700));
    expect(sink.received).toHaveLength(0);
    const done = await waitForMessage(t, res.body.id);
    expect(done.status).toBe('sent');
    expect(Date.parse((done as unknown as { sent_at: string }).sent_at)).toBeGreaterThanOrEqual(Date.parse(sendAt));
  });

  it('should return the original message for a repeated Idempotency-Key, and 422 when the body differs', async () => {
    const sink = await server();
    await providerFor(t, sink);
    const key = { 'Idempotency-Key': `order-${Date.now()}` };
    const first = await send(message({ subject: 'Once' }), key);
    const again = await send(message({ subject: 'Once' }), key);
    expect(again.status).toBe(202);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body.id).toBe(first.body.id);
    await waitForMessage(t, first.body.id);
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.received).toHaveLength(1);
    const different = await send(message({ subject: 'Twice' }), key);
    expect(different.status).toBe(422);
    expect(different.body).toEqual({ detail: 'This Idempotency-Key was already used with a different request.' });
  });

  it.each([
    ['an invalid address in a list', { to: ['ok@example.com', 'not an address'] }, { to: ['Enter a valid email address (item 2).'] }],
    ['an address that smuggles a header', { to: 'b@example.com\r\nBcc: v@evil.test' }, { to: ['Enter a valid email address (item 1).'] }],
    ['no body', { text: undefined }, { non_field_errors: ['Give text, html or both.'] }],
    [
      'a header with a line break',
      { headers: { 'X-A': 'a\r\nBcc: v@evil.test' } },
      { headers: ['The value of "X-A" may not contain line breaks.'] },
    ],
    ['a header the service owns', { headers: { 'Message-ID': '<x@y>' } }, { headers: ['The "Message-ID" header is set by the service.'] }],
    [
      'attachments over the limit',
      { attachments: [{ filename: 'a.bin', content: Buffer.alloc(5000).toString('base64') }] },
      { attachments: ['The attachments total 5000 bytes; the limit is 4096.'] },
    ],
    [
      'an attachment that is not base64',
      { attachments: [{ filename: 'a.bin', content: '***' }] },
      { attachments: ['Attachment 1: content must be base64.'] },
    ],
    ['an unknown provider', { provider_id: 999999 }, { provider_id: ['Invalid pk "999999" - object does not exist.'] }],
    [
      'a bad send_at',
      { send_at: 'tomorrow' },
      { send_at: ['Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].'] },
    ],
    ['no subject', { subject: undefined }, { subject: ['This field is required.'] }],
  ])('should answer 400 and store nothing when given %s', async (_, overrides, errors) => {
    const before = (await request(t.server).get(`${API}/messages/`).set(t.auth)).body.count;
    const res = await send(message(overrides));
    expect(res.status).toBe(400);
    expect(res.body).toEqual(errors);
    expect((await request(t.server).get(`${API}/messages/`).set(t.auth)).body.count).toBe(before);
  });

  it('should need the send scope, and show a key only its own messages', async () => {
    const sink = await server();
    await providerFor(t, sink);
    const mk = async (scopes: string[]) =>
      `Bearer ${(await request(t.server).post(`${API}/api-keys/`).set(t.auth).send({ name: scopes.join(), scopes })).body.key}`;
    const reader = await mk(['providers:read']);
    await request(t.server).post(`${API}/send/`).set('Authorization', reader).send(message()).expect(403);
    const [k1, k2] = [await mk(['send']), await mk(['send'])];
    const mine = await request(t.server).post(`${API}/send/`).set('Authorization', k1).send(message()).expect(202);
    await request(t.server).get(`${API}/messages/${mine.body.id}/`).set('Authorization', k1).expect(200);
    await request(t.server).get(`${API}/messages/${mine.body.id}/`).set('Authorization', k2).expect(404);
    const list = (await request(t.server).get(`${API}/messages/`).set('Authorization', k2).expect(200)).body;
    expect(list.results.map((m: { id: number }) => m.id)).not.toContain(mine.body.id);
    // Settle it here, or it would go out through whichever provider the next test creates.
    await waitForMessage(t, mine.body.id);
  });

  it('should page and filter the message list', async () => {
    const sink = await server();
    const p = await providerFor(t, sink);
    for (let i = 0; i < 3; i++) await send(message({ wait: true }));
    const page = (await request(t.server).get(`${API}/messages/?status=sent&provider_id=${p.id}&page_size=2`).set(t.auth).expect(200)).body;
    expect(page.count).toBe(3);
    expect(page.results).toHaveLength(2);
    expect(page.next).toContain('page=2');
    expect(page.previous).toBeNull();
    await request(t.server)
      .get(`${API}/messages/?status=lost`)
      .set(t.auth)
      .expect(400, { status: ['"lost" is not a valid choice.'] });
  });
});
