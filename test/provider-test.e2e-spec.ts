import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { API, startApp, type TestApp } from './support/app.js';
import { AiosmtpdServer } from './support/aiosmtpd.js';
import { fastSendingEnv, providerFor } from './support/sending.js';
import { smtpServers } from './support/smtp-server.js';

describe('POST /providers/{id}/test/ (seed section 6) and GET /providers/statistics/ (section 10)', () => {
  let t: TestApp;
  const servers = smtpServers();
  const server = servers.start;
  const test = (id: number, body: object = { test_email: 'test@example.com' }) =>
    request(t.server).post(`${API}/providers/${id}/test/`).set(t.auth).send(body);

  beforeAll(async () => {
    t = await startApp({ env: fastSendingEnv() });
  });
  afterEach(async () => {
    await servers.closeAll();
  });
  afterAll(async () => {
    await t.close();
  });

  it('should send a real message through that provider and report the Message-ID it carried', async () => {
    const sink = await server({ starttls: true, auth: { user: 'mailer', pass: 'S3cret-pass' } });
    const p = await providerFor(t, sink, { smtp_use_tls: true, smtp_username: 'mailer', smtp_password: 'S3cret-pass' });
    const res = await test(p.id);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      success: true,
      message: 'Test email sent successfully',
      provider_name: p.name,
      response_time: expect.any(Number),
      message_id: expect.stringMatching(/^<.+@mail\.test\.local>$/),
    });
    const [got] = await sink.waitForMessages(1);
    expect(got.parsed.messageId).toBe(res.body.message_id);
    expect(got.envelope.to).toEqual(['test@example.com']);
    expect(got.secure).toBe(true);
    expect(got.user).toBe('mailer');
    const detail = (await request(t.server).get(`${API}/providers/${p.id}/`).set(t.auth)).body;
    expect(detail.emails_sent_today).toBe(1);
    expect(detail.emails_sent_this_month).toBe(1);
  });

  it('should answer 400 with what the server said, and no password, when the test fails', async () => {
    // Over STARTTLS: a password never goes in clear (SMTP_ALLOW_PLAINTEXT_AUTH is off).
    const sink = await server({ starttls: true, auth: { user: 'mailer', pass: 'right-pass' } });
    const p = await providerFor(t, sink, { smtp_use_tls: true, smtp_username: 'mailer', smtp_password: 'Wrong-Pass-123' });
    const res = await test(p.id);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      success: false,
      error: expect.stringContaining('535'),
      provider_name: p.name,
      response_time: expect.any(Number),
    });
    expect(res.body.error).toContain('EAUTH');
    expect(JSON.stringify(res.body)).not.toContain('Wrong-Pass-123');
    expect(t.logs.text()).not.toContain('Wrong-Pass-123');
    const detail = (await request(t.server).get(`${API}/providers/${p.id}/`).set(t.auth)).body;
    expect(detail.emails_sent_today).toBe(0);
  });

  it('should answer 429 with Retry-After when the provider is at its limit, 404 for no provider, 400 for a bad address', async () => {
    const sink = await server();
    const p = await providerFor(t, sink, { rate_limit_per_minute: 1 });
    expect((await test(p.id)).status).toBe(200);
    const limited = await test(p.id);
    expect(limited.status).toBe(429);
    expect(limited.body.detail).toContain('minute');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    await test(999999).expect(404, { detail: 'Not found.' });
    await test(p.id, { test_email: 'nope' }).expect(400, { test_email: ['Enter a valid email address.'] });
  });

  it('should deliver through Debian’s aiosmtpd with STARTTLS and AUTH', async () => {
    const aiosmtpd = await AiosmtpdServer.start({ user: 'relay-user', pass: 'relay-pass' });
    try {
      const p = await providerFor(t, aiosmtpd, { smtp_use_tls: true, smtp_username: 'relay-user', smtp_password: 'relay-pass' });
      const res = await test(p.id, { test_email: 'ops@example.com' });
      expect(res.status).toBe(200);
      const [got] = await aiosmtpd.received();
      expect(got.envelope.to).toEqual(['ops@example.com']);
      expect(got.user).toBe('relay-user');
      expect(got.parsed.messageId).toBe(res.body.message_id);
      const wrong = await providerFor(t, aiosmtpd, { smtp_use_tls: true, smtp_username: 'relay-user', smtp_password: 'bad' });
      const failed = await test(wrong.id);
      expect(failed.status).toBe(400);
      expect(failed.body.error).toContain('EAUTH');
    } finally {
      await aiosmtpd.stop();
    }
  });

  it('should report success rate, response time and usage percentages from recorded attempts', async () => {
    const sink = await server();
    const p = await providerFor(t, sink, { daily_limit: 10, monthly_limit: 100 });
    await test(p.id).expect(200);
    await test(p.id).expect(200);
    sink.setFaults({ onMailFrom: { code: 451, message: 'Try later' } });
    await test(p.id).expect(400);
    const stats = (await request(t.server).get(`${API}/providers/statistics/`).set(t.auth).expect(200)).body as Record<string, unknown>[];
    const row = stats.find((s) => s.provider_id === p.id);
    expect(row).toMatchObject({
      provider_name: p.name,
      provider_type: 'smtp',
      is_active: true,
      health_status: 'unknown',
      emails_sent_today: 2,
      emails_sent_this_month: 2,
      daily_limit: 10,
      monthly_limit: 100,
      daily_usage_percentage: 20,
      monthly_usage_percentage: 2,
      success_rate: 66.67,
      total_attempts: 3,
      failovers: [],
    });
    expect(row?.average_response_time).toEqual(expect.any(Number));
    await request(t.server)
      .get(`${API}/providers/statistics/?days=0`)
      .set(t.auth)
      .expect(400, { days: ['Ensure this value is greater than or equal to 1.'] });
  });
});
