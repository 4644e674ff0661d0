import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { API, startApp, type TestApp } from './support/app.js';
import { sesProviderBody } from './support/factories.js';
import {
  deactivateAllProviders,
  fastSendingEnv,
  providerFor,
  sesProviderFor,
  waitForMessage,
  type MessageBody,
} from './support/sending.js';
import { SesEmulator, sesError } from './support/ses-emulator.js';
import { closedPort, smtpServers } from './support/smtp-server.js';

const SECRET = 'Ses-Secret-Key/0123456789abcdefEXAMPLE';

describe('Sending through Amazon SES (the aws-ses-v2-local emulator behind a recording pass-through)', () => {
  let t: TestApp;
  let ses: SesEmulator;
  const servers = smtpServers();
  const server = servers.start;
  const send = (body: Record<string, unknown>) => request(t.server).post(`${API}/send/`).set(t.auth).send(body);
  const message = (overrides: Record<string, unknown> = {}) => ({
    to: 'alice@example.com',
    subject: 'Hello',
    text: 'Plain body',
    ...overrides,
  });
  const sesProvider = (overrides: Record<string, unknown> = {}) => sesProviderFor(t, { aws_secret_access_key: SECRET, ...overrides });
  const attemptsOf = (m: MessageBody) => m.attempts?.map((a) => [a.provider_id, a.outcome, a.error_class]);

  beforeAll(async () => {
    ses = await SesEmulator.start();
    t = await startApp({ env: fastSendingEnv({ ...ses.env() }) });
  });
  beforeEach(async () => {
    await deactivateAllProviders(t);
    ses.setSendFault(null);
    ses.sent.length = 0;
    ses.sendRequests = 0;
  });
  afterEach(async () => {
    await servers.closeAll();
  });
  afterAll(async () => {
    await t.close();
    await ses.close();
    delete process.env.AWS_ENDPOINT_URL_SESV2;
  });

  it('should send the MIME message the SMTP path builds: our Message-ID, headers, bodies, attachment, every recipient', async () => {
    const p = await sesProvider({
      from_email: 'noreply@example.com',
      from_name: 'Example Co',
      reply_to: 'help@example.com',
      aws_region: 'eu-central-1',
    });
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
    const done = await waitForMessage(t, res.body.id);
    expect(done).toMatchObject({ status: 'sent', provider_id: p.id, outcome_uncertain: false });
    expect(done.attempts).toEqual([
      expect.objectContaining({ provider_id: p.id, outcome: 'accepted', smtp_reply: expect.stringMatching(/^SES MessageId \S+$/) }),
    ]);

    const [got] = await ses.waitForSent(1);
    expect(ses.sent).toHaveLength(1);
    expect(got.accessKeyId).toBe('AKIAIOSFODNN7EXAMPLE');
    expect(got.region).toBe('eu-central-1');
    expect(got.fromEmailAddress).toBe('noreply@example.com');
    expect(got.destination.to.sort()).toEqual(['alice@example.com', 'bob@example.com', 'carol@example.com', 'dave@example.com']);
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
    // SES's own MessageId, as the emulator stored it, is the one on the attempt.
    const store = (await (await fetch(`${ses.endpoint}/store`)).json()) as { emails: { messageId: string }[] };
    expect(done.attempts?.[0].smtp_reply).toBe(`SES MessageId ${store.emails.at(-1)?.messageId}`);
  });

  it('should fail over from an SMTP provider that refuses connections to SES, and deliver once there', async () => {
    const smtp = await providerFor(t, { host: '127.0.0.1', port: await closedPort() }, { priority: 1 });
    const sesP = await sesProvider({ priority: 2 });
    const res = await send(message({ wait: true }));
    expect(res.status).toBe(200);
    expect(res.body.provider_id).toBe(sesP.id);
    expect((res.body as MessageBody).attempts?.map((a) => [a.provider_id, a.outcome])).toEqual([
      [smtp.id, 'provider_failure'],
      [sesP.id, 'accepted'],
    ]);
    const [got] = await ses.waitForSent(1);
    expect(ses.sent).toHaveLength(1);
    expect(got.parsed.messageId).toBe(res.body.message_id);
  });

  it('should fail over from an SMTP provider answering 4xx to SES', async () => {
    const busy = await server({ faults: { onMailFrom: { code: 451, message: 'Try again later' } } });
    const smtp = await providerFor(t, busy, { priority: 1 });
    const sesP = await sesProvider({ priority: 2 });
    const res = await send(message({ wait: true }));
    expect(res.body.provider_id).toBe(sesP.id);
    expect(attemptsOf(res.body)).toEqual([
      [smtp.id, 'provider_failure', expect.any(String)],
      [sesP.id, 'accepted', null],
    ]);
    expect(busy.received).toHaveLength(0);
    expect(ses.sent).toHaveLength(1);
  });

  it('should fail over from SES to SMTP when SES answers SendingPausedException, and deliver once there', async () => {
    ses.setSendFault(sesError('SendingPausedException', 400, 'Email sending is disabled for your account.'));
    const sink = await server();
    const sesP = await sesProvider({ priority: 1 });
    const smtp = await providerFor(t, sink, { priority: 2 });
    const res = await send(message({ wait: true }));
    expect(res.body.provider_id).toBe(smtp.id);
    expect((res.body as MessageBody).attempts?.map((a) => [a.provider_id, a.outcome, a.smtp_code, a.error_class])).toEqual([
      [sesP.id, 'provider_failure', 400, 'SendingPausedException'],
      [smtp.id, 'accepted', null, null],
    ]);
    expect(ses.sendRequests).toBe(1);
    expect(ses.sent).toHaveLength(0);
    const [got] = await sink.waitForMessages(1);
    expect(sink.received).toHaveLength(1);
    expect(got.parsed.messageId).toBe(res.body.message_id);
  });

  it('should fail over from SES to SMTP when the SES endpoint refuses connections', async () => {
    const sink = await server();
    const sesP = await sesProvider({ priority: 1 });
    const smtp = await providerFor(t, sink, { priority: 2 });
    await ses.refuseConnections();
    try {
      const res = await send(message({ wait: true }));
      expect(res.body.provider_id).toBe(smtp.id);
      expect(attemptsOf(res.body)).toEqual([
        [sesP.id, 'provider_failure', 'ECONNREFUSED'],
        [smtp.id, 'accepted', null],
      ]);
      expect(sink.received).toHaveLength(1);
    } finally {
      await ses.acceptConnections();
    }
    expect(ses.sendRequests).toBe(0);
  });

  it('should fail over on a throttling answer and on bad credentials (UnrecognizedClientException, 403)', async () => {
    const sink = await server();
    const sesP = await sesProvider({ priority: 1 });
    await providerFor(t, sink, { priority: 2 });
    ses.setSendFault(sesError('TooManyRequestsException', 429));
    const throttled = await send(message({ wait: true }));
    expect(attemptsOf(throttled.body)?.[0]).toEqual([sesP.id, 'provider_failure', 'TooManyRequestsException']);
    ses.setSendFault(sesError('UnrecognizedClientException', 403, 'The security token included in the request is invalid.'));
    const denied = await send(message({ wait: true }));
    expect(attemptsOf(denied.body)?.[0]).toEqual([sesP.id, 'provider_failure', 'UnrecognizedClientException']);
    expect(sink.received).toHaveLength(2);
  });

  it('should fail a message SES rejects (MessageRejected) without trying other providers', async () => {
    ses.setSendFault(sesError('MessageRejected', 400, 'Email address is not verified.'));
    const sink = await server();
    const sesP = await sesProvider({ priority: 1 });
    await providerFor(t, sink, { priority: 2 });
    const res = await send(message({ wait: true }));
    expect(res.status).toBe(502);
    const failed = (await request(t.server).get(`${API}/messages/${res.body.id}/`).set(t.auth)).body as MessageBody;
    expect(failed).toMatchObject({ status: 'failed', provider_id: sesP.id });
    expect(failed.last_error).toContain('MessageRejected');
    expect(failed.last_error).toContain('Email address is not verified.');
    expect(attemptsOf(failed)).toEqual([[sesP.id, 'message_rejected', 'MessageRejected']]);
    expect(sink.received).toHaveLength(0);
  });

  it('should not fail over when the connection drops after the whole request, but retry SES later with the same Message-ID', async () => {
    ses.setSendFault('drop-after-request');
    const sink = await server();
    const sesP = await sesProvider({ priority: 1 });
    await providerFor(t, sink, { priority: 2 });
    const res = await send(message());
    const waiting = await waitForMessage(t, res.body.id, (m) => m.outcome_uncertain && m.status === 'queued');
    expect(attemptsOf(waiting)?.[0]).toEqual([sesP.id, 'uncertain', 'ECONNRESET']);
    ses.setSendFault(null);
    const done = await waitForMessage(t, res.body.id);
    expect(done).toMatchObject({ status: 'sent', provider_id: sesP.id });
    expect(done.attempts?.every((a) => a.provider_id === sesP.id)).toBe(true);
    expect(sink.received).toHaveLength(0);
    const [got] = await ses.waitForSent(1);
    expect(got.parsed.messageId).toBe(res.body.message_id);
  });

  it('should sign with the new access key once the credentials change', async () => {
    const p = await sesProvider();
    const first = await send(message({ wait: true })).expect(200);
    await request(t.server)
      .post(`${API}/providers/${p.id}/update_credentials/`)
      .set(t.auth)
      .send({ aws_access_key_id: 'AKIAI44QH8DHBEXAMPLE', aws_secret_access_key: 'another-secret-key-EXAMPLE' })
      .expect(200);
    const second = await send(message({ wait: true })).expect(200);
    const keyOf = (messageId: string) => ses.sent.find((s) => s.parsed.messageId === messageId)?.accessKeyId;
    expect([keyOf(first.body.message_id), keyOf(second.body.message_id)]).toEqual(['AKIAIOSFODNN7EXAMPLE', 'AKIAI44QH8DHBEXAMPLE']);
  });

  describe('POST /providers/{id}/test/', () => {
    const test = (id: number) => request(t.server).post(`${API}/providers/${id}/test/`).set(t.auth).send({ test_email: 'ops@example.com' });

    it('should send a real message through SES and report the Message-ID it carried', async () => {
      const p = await sesProvider();
      const res = await test(p.id);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        success: true,
        message: 'Test email sent successfully',
        provider_name: p.name,
        response_time: expect.any(Number),
        message_id: expect.stringMatching(/^<.+@mail\.test\.local>$/),
      });
      const [got] = await ses.waitForSent(1);
      expect(got.parsed.messageId).toBe(res.body.message_id);
      expect(got.destination.to).toEqual(['ops@example.com']);
      expect(got.parsed.to).toMatchObject({ value: [{ address: 'ops@example.com' }] });
    });

    it('should answer 400 with the SES error, and no secret, when SES refuses', async () => {
      ses.setSendFault(sesError('SignatureDoesNotMatch', 403, `The request signature we calculated does not match (${SECRET})`));
      const p = await sesProvider();
      const res = await test(p.id);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ success: false, error: expect.any(String), provider_name: p.name, response_time: expect.any(Number) });
      expect(res.body.error).toMatch(/^SES Error: SignatureDoesNotMatch 403 /);
      expect(res.body.error).toContain('403');
      expect(JSON.stringify(res.body)).not.toContain(SECRET);
      const m = (await request(t.server).get(`${API}/messages/?provider_id=${p.id}`).set(t.auth)).body;
      expect(JSON.stringify(m)).not.toContain(SECRET);
      expect(t.logs.text()).not.toContain(SECRET);
    });
  });

  describe('aws_region', () => {
    it.each(['us-east', 'email.eu-west-1.amazonaws.com', 'eu-west-1.evil.example', 'EU-WEST-1'])(
      'should refuse %j with a 400 keyed aws_region on create, PUT, PATCH and update_credentials',
      async (region) => {
        const message = 'Enter a valid AWS region name, such as "eu-west-1".';
        await request(t.server)
          .post(`${API}/providers/`)
          .set(t.auth)
          .send(sesProviderBody({ aws_region: region }))
          .expect(400, { aws_region: [message] });
        const p = await sesProvider();
        for (const method of ['put', 'patch'] as const)
          await request(t.server)
            [method](`${API}/providers/${p.id}/`)
            .set(t.auth)
            .send({ aws_region: region })
            .expect(400, { aws_region: [message] });
        await request(t.server)
          .post(`${API}/providers/${p.id}/update_credentials/`)
          .set(t.auth)
          .send({ aws_region: region })
          .expect(400, { aws_region: [message] });
      },
    );

    it('should require aws_region for an aws_ses provider', async () => {
      const res = await request(t.server)
        .post(`${API}/providers/`)
        .set(t.auth)
        .send(sesProviderBody({ aws_region: null }));
      expect(res.status).toBe(400);
      expect(res.body.aws_region).toEqual(['This field is required.']);
    });
  });
});
