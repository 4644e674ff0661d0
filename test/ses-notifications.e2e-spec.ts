import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { API, startApp, type TestApp } from './support/app.js';
import { smtpProviderBody } from './support/factories.js';
import { fastSendingEnv, sesProviderFor, waitForMessage } from './support/sending.js';
import { SesEmulator } from './support/ses-emulator.js';
import { FakeSns, type SnsMessage } from './support/sns-signer.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/sns');
type Json = Record<string, any>;
const fixture = (name: string): Json => JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8')) as Json;

/** SES's report about the message SES knows as `sesMessageId`, from AWS's sample, for `recipients`. */
function bounce(sesMessageId: string, recipients: string[], bounceType = 'Permanent'): Json {
  const b = fixture('ses-bounce-permanent.json');
  b.mail.messageId = sesMessageId;
  b.bounce.bounceType = bounceType;
  b.bounce.bounceSubType = bounceType === 'Permanent' ? 'General' : 'MailboxFull';
  b.bounce.bouncedRecipients = recipients.map((address) => ({ ...b.bounce.bouncedRecipients[0], emailAddress: address }));
  return b;
}

describe('SES bounces and complaints through Amazon SNS (POST /providers/{id}/ses_notifications/)', () => {
  let t: TestApp;
  let ses: SesEmulator;
  let sns: FakeSns;
  let provider: { id: number; name: string };
  const db = () => t.app.get(DataSource);
  const post = (body: unknown, providerId = provider.id, contentType = 'text/plain; charset=UTF-8', slash = '/') =>
    request(t.server)
      .post(`${API}/providers/${providerId}/ses_notifications${slash}`)
      .set('Content-Type', contentType)
      .send(typeof body === 'string' ? body : JSON.stringify(body));
  const counts = async () => {
    const [row] = (await db().query(
      `SELECT (SELECT count(*) FROM message_feedback)::int AS feedback, (SELECT count(*) FROM suppressions)::int AS suppressions,
              (SELECT count(*) FROM webhook_events)::int AS events`,
    )) as { feedback: number; suppressions: number; events: number }[];
    return row;
  };
  const eventsFor = async (messageId: number) =>
    (await db().query(`SELECT type, data FROM webhook_events WHERE (data->>'id')::bigint = $1 ORDER BY id`, [messageId])) as {
      type: string;
      data: Json;
    }[];

  /** Sends a message through the SES provider; answers its id and the MessageId SES gave it. */
  async function sendThroughSes(to: string[]): Promise<{ id: number; header: string; sesMessageId: string }> {
    const res = await request(t.server).post(`${API}/send/`).set(t.auth).send({ to, subject: 'Hello', text: 'Body' });
    expect(res.status).toBe(202);
    const done = await waitForMessage(t, res.body.id);
    expect(done.status).toBe('sent');
    const attempt = done.attempts?.[0] as unknown as { provider_message_id: string | null };
    expect(attempt.provider_message_id).toEqual(expect.any(String));
    return { id: done.id, header: done.message_id, sesMessageId: attempt.provider_message_id as string };
  }

  beforeAll(async () => {
    ses = await SesEmulator.start();
    sns = await FakeSns.start();
    // The outbox is read directly; no dispatcher delivers it (the endpoint below is a placeholder).
    t = await startApp({ env: fastSendingEnv({ ...ses.env(), ...sns.env(), WEBHOOKS_ENABLED: 'false' }) });
    provider = await sesProviderFor(t, { ses_configuration_set: 'feedback-events' });
    await db().query(
      `INSERT INTO webhooks (url, events, secret_encrypted) VALUES ('http://127.0.0.1:9/', '["email.bounced", "email.complained", "email.suppressed"]', 'x')`,
    );
  }, 60_000);
  beforeEach(() => {
    sns.requests.length = 0;
  });
  afterAll(async () => {
    await t?.close();
    await ses?.close();
    await sns?.close();
    for (const k of ['AWS_ENDPOINT_URL_SESV2', 'SNS_CERT_HOST_PATTERN', 'SNS_CERT_CA_FILE']) delete process.env[k];
  });

  it("should send with the provider's configuration set and keep SES's MessageId on the attempt", async () => {
    const shown = await request(t.server).get(`${API}/providers/${provider.id}/`).set(t.auth).expect(200);
    expect(shown.body.ses_configuration_set).toBe('feedback-events');
    ses.sent.length = 0;
    const sent = await sendThroughSes(['ann@example.com']);
    const [got] = await ses.waitForSent(1);
    expect(got.configurationSetName).toBe('feedback-events');
    const store = (await (await fetch(`${ses.endpoint}/store`)).json()) as { emails: { messageId: string }[] };
    expect(sent.sesMessageId).toBe(store.emails.at(-1)?.messageId);
  });

  it('should record a permanent bounce, suppress the address and raise email.bounced and email.suppressed, once', async () => {
    const sent = await sendThroughSes(['jane@example.com', 'mary@example.com']);
    const before = await counts();
    const notification = sns.notification(bounce(sent.sesMessageId, ['Jane@Example.com']), {}, '1');
    const res = await post(notification);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ result: 'recorded' });
    // The certificate was fetched from the fake SNS, over HTTPS.
    expect(sns.requests).toContain('/SimpleNotificationService-test.pem');

    const message = (await request(t.server).get(`${API}/messages/${sent.id}/`).set(t.auth).expect(200)).body as Json;
    expect(message.feedback).toEqual([
      {
        type: 'bounce',
        subtype: 'Permanent/General',
        recipients: [{ address: 'Jane@Example.com', status: '5.1.1', diagnostic_code: 'smtp; 550 5.1.1 <jane@example.com>... User' }],
        occurred_at: '2016-01-27T14:59:38.237Z',
      },
    ]);
    const suppressed = (await db().query(
      `SELECT email, reason, message_id::int FROM suppressions WHERE lower(email) = 'jane@example.com'`,
    )) as Json[];
    expect(suppressed).toEqual([{ email: 'Jane@Example.com', reason: 'hard_bounce', message_id: sent.id }]);
    const events = await eventsFor(sent.id);
    expect(events).toEqual([
      {
        type: 'email.bounced',
        data: {
          id: sent.id,
          message_id: sent.header,
          provider: { id: provider.id, name: provider.name },
          bounce_type: 'Permanent',
          bounce_subtype: 'General',
          recipients: [{ address: 'Jane@Example.com', status: '5.1.1', diagnostic_code: 'smtp; 550 5.1.1 <jane@example.com>... User' }],
        },
      },
      {
        type: 'email.suppressed',
        data: { id: sent.id, message_id: sent.header, suppressed_recipients: [{ address: 'Jane@Example.com', reason: 'hard_bounce' }] },
      },
    ]);
    expect(await counts()).toEqual({ feedback: before.feedback + 1, suppressions: before.suppressions + 1, events: before.events + 2 });

    // SNS delivers at least once: the same notification again changes nothing.
    const again = await post(notification, provider.id, 'application/json', '');
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ result: 'duplicate' });
    expect(await counts()).toEqual({ feedback: before.feedback + 1, suppressions: before.suppressions + 1, events: before.events + 2 });

    // Another bounce for an address already suppressed: recorded and raised, no second suppression.
    const later = await post(sns.notification(bounce(sent.sesMessageId, ['jane@example.com']), {}, '2'));
    expect(later.body).toEqual({ result: 'recorded' });
    expect((await eventsFor(sent.id)).map((e) => e.type)).toEqual(['email.bounced', 'email.suppressed', 'email.bounced']);
    expect((await counts()).suppressions).toBe(before.suppressions + 1);
  });

  it('should suppress the complained recipients and raise email.complained (SignatureVersion 2)', async () => {
    const sent = await sendThroughSes(['richard@example.com']);
    const complaint = fixture('ses-complaint.json');
    complaint.mail.messageId = sent.sesMessageId;
    const res = await post(sns.notification(complaint, {}, '2'));
    expect(res.body).toEqual({ result: 'recorded' });
    const suppressed = (await db().query(`SELECT reason, message_id::int FROM suppressions WHERE email = 'richard@example.com'`)) as Json[];
    expect(suppressed).toEqual([{ reason: 'complaint', message_id: sent.id }]);
    expect(await eventsFor(sent.id)).toEqual([
      {
        type: 'email.complained',
        data: {
          id: sent.id,
          message_id: sent.header,
          provider: { id: provider.id, name: provider.name },
          recipients: [{ address: 'richard@example.com' }],
          complaint_feedback_type: 'abuse',
        },
      },
      {
        type: 'email.suppressed',
        data: { id: sent.id, message_id: sent.header, suppressed_recipients: [{ address: 'richard@example.com', reason: 'complaint' }] },
      },
    ]);
    const message = (await request(t.server).get(`${API}/messages/${sent.id}`).set(t.auth).expect(200)).body as Json;
    expect(message.feedback).toEqual([
      { type: 'complaint', subtype: 'abuse', recipients: [{ address: 'richard@example.com' }], occurred_at: '2016-01-27T14:59:38.237Z' },
    ]);
  });

  it('should record a transient bounce without suppressing anyone', async () => {
    const sent = await sendThroughSes(['full@example.com']);
    const before = await counts();
    const res = await post(sns.notification(bounce(sent.sesMessageId, ['full@example.com'], 'Transient')));
    expect(res.body).toEqual({ result: 'recorded' });
    expect((await db().query(`SELECT 1 FROM suppressions WHERE email = 'full@example.com'`)) as unknown[]).toEqual([]);
    const events = await eventsFor(sent.id);
    expect(events.map((e) => [e.type, e.data.bounce_type, e.data.bounce_subtype])).toEqual([['email.bounced', 'Transient', 'MailboxFull']]);
    expect(await counts()).toEqual({ feedback: before.feedback + 1, suppressions: before.suppressions, events: before.events + 1 });
  });

  it('should record a delivery (configuration set event publishing, eventType) and raise nothing', async () => {
    const sent = await sendThroughSes(['jane.d@example.com']);
    const delivery = fixture('ses-delivery.json');
    delete delivery.notificationType;
    delivery.eventType = 'Delivery';
    delivery.mail.messageId = sent.sesMessageId;
    delivery.delivery.recipients = ['jane.d@example.com'];
    const before = await counts();
    const res = await post(sns.notification(delivery), provider.id, 'application/json');
    expect(res.body).toEqual({ result: 'recorded' });
    const message = (await request(t.server).get(`${API}/messages/${sent.id}/`).set(t.auth).expect(200)).body as Json;
    expect(message.feedback).toEqual([
      { type: 'delivery', subtype: null, recipients: [{ address: 'jane.d@example.com' }], occurred_at: '2016-01-27T14:59:38.237Z' },
    ]);
    expect(await counts()).toEqual({ feedback: before.feedback + 1, suppressions: before.suppressions, events: before.events });
  });

  it('should answer 200 and record nothing for a message SES id no attempt of this provider has', async () => {
    const before = await counts();
    const res = await post(sns.notification(bounce('0000000000000000-unknown-000000', ['x@example.com'])));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ result: 'unknown_message' });
    expect(await counts()).toEqual(before);
    // Nor a report of another provider's message: attempts are matched within this provider only.
    const sent = await sendThroughSes(['y@example.com']);
    const other = await sesProviderFor(t, { is_active: false });
    const res2 = await post(sns.notification(bounce(sent.sesMessageId, ['y@example.com'])), other.id);
    expect(res2.body).toEqual({ result: 'unknown_message' });
    expect(await counts()).toEqual(before);
  });

  it('should take text/plain here alone, and SNS-sized bodies beyond BODY_LIMIT_BYTES', async () => {
    const big = bounce('0000-no-such-message', ['a@example.com']);
    big.mail.headers.push({ name: 'X-Padding', value: 'x'.repeat(200 * 1024) });
    const res = await post(sns.notification(big));
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { result: 'unknown_message' } });
    const elsewhere = await request(t.server).post(`${API}/providers/`).set(t.auth).set('Content-Type', 'text/plain').send('{}');
    expect(elsewhere.status).toBe(415);
  });

  it('should refuse with 403, changing nothing, whatever SNS did not sign', async () => {
    const sent = await sendThroughSes(['victim@example.com']);
    const signed = sns.notification(bounce(sent.sesMessageId, ['victim@example.com']));
    const unsigned: SnsMessage = { ...signed };
    delete unsigned.Signature;
    const cases: [string, unknown, RegExp][] = [
      ['signed with another key', sns.sign({ ...signed }, sns.otherKey), /signature/i],
      ['tampered Message', { ...signed, Message: JSON.stringify(bounce(sent.sesMessageId, ['someone.else@example.com'])) }, /signature/i],
      ['tampered Type-specific field', { ...signed, TopicArn: 'arn:aws:sns:us-west-2:999999999999:other' }, /signature/i],
      ['unsigned', unsigned, /lacks Signature/],
      ['SignatureVersion 3', sns.sign({ ...signed, SignatureVersion: '3' }), /SignatureVersion/],
      [
        'certificate on another host',
        sns.sign({ ...signed, SigningCertURL: 'https://sns.us-west-2.amazonaws.com.evil.example/cert.pem' }),
        /SigningCertURL/,
      ],
      ['certificate over http', sns.sign({ ...signed, SigningCertURL: sns.certificateUrl.replace('https:', 'http:') }), /SigningCertURL/],
      [
        'certificate not a .pem',
        sns.sign({ ...signed, SigningCertURL: `${sns.origin}/SimpleNotificationService-test.txt` }),
        /SigningCertURL/,
      ],
      [
        'certificate URL SNS does not serve',
        sns.sign({ ...signed, SigningCertURL: `${sns.origin}/missing.pem` }),
        /certificate could not be fetched/,
      ],
      ['not JSON', 'Type=Notification', /not JSON/],
      ['a JSON array', [signed], /not an SNS message/],
    ];
    const before = await counts();
    for (const [name, body, detail] of cases) {
      const res = await post(body);
      expect({ name, status: res.status, detail: res.body.detail }).toEqual({ name, status: 403, detail: expect.stringMatching(detail) });
    }
    expect(await counts()).toEqual(before);
    expect(sns.requests.filter((r) => r !== '/SimpleNotificationService-test.pem' && r !== '/missing.pem')).toEqual([]);
    // The genuine one is still taken afterwards.
    expect((await post(signed)).body).toEqual({ result: 'recorded' });
  });

  it('should confirm a subscription by a GET of its SubscribeURL, and only on the SNS host', async () => {
    const base = fixture('sns-subscription-confirmation.json');
    const subscribeUrl = `${sns.origin}/?Action=ConfirmSubscription&TopicArn=${base.TopicArn}&Token=${base.Token}`;
    const confirmation = sns.sign({ ...base, SubscribeURL: subscribeUrl, SigningCertURL: sns.certificateUrl, SignatureVersion: '2' });
    const fresh = await sesProviderFor(t, { is_active: false });
    const res = await post(confirmation, fresh.id);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ result: 'confirmed' });
    expect(sns.requests).toContain(new URL(subscribeUrl).pathname + new URL(subscribeUrl).search);
    // The first topic to reach the provider is its topic from now on.
    const shown = await request(t.server).get(`${API}/providers/${fresh.id}/`).set(t.auth).expect(200);
    expect(shown.body.ses_topic_arn).toBe(base.TopicArn);

    sns.requests.length = 0;
    const other = await sesProviderFor(t, { is_active: false });
    const elsewhere = sns.sign({ ...confirmation, SubscribeURL: base.SubscribeURL.replace('sns.us-west-2.amazonaws.com', '127.0.0.2') });
    const refused = await post(elsewhere, other.id);
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({ detail: 'SubscribeURL is not an Amazon SNS URL.' });
    expect(sns.requests.filter((r) => r.includes('ConfirmSubscription'))).toEqual([]);
    // Refused, it kept no topic either.
    expect((await request(t.server).get(`${API}/providers/${other.id}/`).set(t.auth)).body.ses_topic_arn).toBeNull();
  });

  it("should refuse another topic's messages once the provider has its topic, until an operator changes it", async () => {
    const p = await sesProviderFor(t, { is_active: false });
    const mine = 'arn:aws:sns:us-west-2:123456789012:mine';
    const theirs = 'arn:aws:sns:us-west-2:210987654321:theirs';
    const unknown = (topic: string) => sns.notification(bounce('0000-no-such-message', ['a@example.com']), { TopicArn: topic });
    expect((await post(unknown(mine), p.id)).body).toEqual({ result: 'unknown_message' });
    const before = await counts();
    const refused = await post(unknown(theirs), p.id);
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({ detail: "TopicArn is not this provider's SNS topic." });
    expect(await counts()).toEqual(before);
    const pinned = await request(t.server).get(`${API}/providers/${p.id}/`).set(t.auth).expect(200);
    expect(pinned.body.ses_topic_arn).toBe(mine);

    // An operator moves the provider to the other topic (or clears it: the next topic is kept).
    const moved = await request(t.server).patch(`${API}/providers/${p.id}/`).set(t.auth).send({ ses_topic_arn: theirs });
    expect(moved.body.ses_topic_arn).toBe(theirs);
    expect((await post(unknown(theirs), p.id)).status).toBe(200);
    expect((await post(unknown(mine), p.id)).status).toBe(403);
    await request(t.server).patch(`${API}/providers/${p.id}/`).set(t.auth).send({ ses_topic_arn: null }).expect(200);
    expect((await post(unknown(mine), p.id)).status).toBe(200);
    const bad = await request(t.server).patch(`${API}/providers/${p.id}/`).set(t.auth).send({ ses_topic_arn: 'arn:aws:sqs:us-west-2:1:q' });
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.body)).toEqual(['ses_topic_arn']);
  });

  it('should answer 404 for an SMTP provider, a deleted one and one that never existed, even when signed', async () => {
    const smtp = (await request(t.server).post(`${API}/providers/`).set(t.auth).send(smtpProviderBody()).expect(201)).body as {
      id: number;
    };
    const gone = await sesProviderFor(t, { is_active: false });
    await request(t.server).delete(`${API}/providers/${gone.id}/`).set(t.auth).expect(204);
    const signed = sns.notification(bounce('whatever', ['a@example.com']));
    for (const id of [smtp.id, gone.id, 999_999]) {
      const res = await post(signed, id);
      expect({ id, status: res.status, body: res.body }).toEqual({ id, status: 404, body: { detail: 'Not found.' } });
    }
  });

  it('should validate ses_configuration_set: SES names only, and only on aws_ses providers', async () => {
    const bad = await request(t.server)
      .post(`${API}/providers/`)
      .set(t.auth)
      .send(smtpProviderBody({ ses_configuration_set: 'events' }));
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ ses_configuration_set: ['Only an aws_ses provider sends with a configuration set.'] });
    for (const name of ['has space', 'a'.repeat(65), 'dots.not.allowed']) {
      const res = await request(t.server).patch(`${API}/providers/${provider.id}/`).set(t.auth).send({ ses_configuration_set: name });
      expect({ name, status: res.status, field: Object.keys(res.body) }).toEqual({ name, status: 400, field: ['ses_configuration_set'] });
    }
    const cleared = await request(t.server).patch(`${API}/providers/${provider.id}/`).set(t.auth).send({ ses_configuration_set: '' });
    expect(cleared.body.ses_configuration_set).toBeNull();
    const set = await request(t.server)
      .patch(`${API}/providers/${provider.id}/`)
      .set(t.auth)
      .send({ ses_configuration_set: 'feedback-events' });
    expect(set.body.ses_configuration_set).toBe('feedback-events');
  });
});
