import request from 'supertest';
import { API, type TestApp } from './app.js';
import { sesProviderBody, smtpProviderBody } from './factories.js';
import type { TestSmtpServer } from './smtp-server.js';
import { testCertificate } from './tls.js';

/** Settings that make retries and timeouts fit in a test, and trust the test servers' certificate. */
export function fastSendingEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    SMTP_EXTRA_CA_FILE: testCertificate().caFile,
    SEND_POLL_INTERVAL_MS: '50',
    SEND_RETRY_BASE_SECONDS: '0.3',
    SEND_RETRY_MAX_SECONDS: '1',
    SEND_WAIT_SECONDS: '15',
    SMTP_CONNECTION_TIMEOUT_MS: '2000',
    SMTP_GREETING_TIMEOUT_MS: '1000',
    SMTP_SOCKET_TIMEOUT_MS: '2000',
    MESSAGE_ID_DOMAIN: 'mail.test.local',
    ...overrides,
  };
}

/** A provider pointing at a test server (plain SMTP unless told otherwise). */
export async function providerFor(
  t: TestApp,
  server: Pick<TestSmtpServer, 'host' | 'port'> | { host: string; port: number },
  overrides: Record<string, unknown> = {},
): Promise<{ id: number; name: string }> {
  const body = smtpProviderBody({
    smtp_host: server.host,
    smtp_port: server.port,
    smtp_username: '',
    smtp_password: '',
    smtp_use_tls: false,
    smtp_use_ssl: false,
    daily_limit: null,
    monthly_limit: null,
    rate_limit_per_minute: null,
    from_email: 'sender@example.com',
    ...overrides,
  });
  const res = await request(t.server).post(`${API}/providers/`).set(t.auth).send(body);
  if (res.status !== 201) throw new Error(`provider not created: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: number; name: string };
}

/** An Amazon SES provider; the app reaches SES (the test emulator) through AWS_ENDPOINT_URL_SESV2. */
export async function sesProviderFor(t: TestApp, overrides: Record<string, unknown> = {}): Promise<{ id: number; name: string }> {
  const res = await request(t.server).post(`${API}/providers/`).set(t.auth).send(sesProviderBody(overrides));
  if (res.status !== 201) throw new Error(`provider not created: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: number; name: string };
}

export type MessageBody = {
  id: number;
  status: string;
  message_id: string;
  provider_id: number | null;
  attempts?: { provider_id: number; outcome: string; smtp_code: number | null; smtp_reply: string | null; error_class: string | null }[];
  outcome_uncertain: boolean;
  rejected_recipients: { address: string; smtp_code: number | null }[];
  last_error: string | null;
  next_attempt_at: string;
};

/** Polls GET /messages/{id}/ until `done` holds (default: sent or failed). */
export async function waitForMessage(
  t: TestApp,
  id: number,
  done: (m: MessageBody) => boolean = (m) => m.status === 'sent' || m.status === 'failed',
  timeoutMs = 15_000,
): Promise<MessageBody> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = (await request(t.server).get(`${API}/messages/${id}/`).set(t.auth).expect(200)).body as MessageBody;
    if (done(m)) return m;
    if (Date.now() > deadline) throw new Error(`message ${id} still ${m.status} after ${timeoutMs} ms: ${JSON.stringify(m)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Deactivates every provider, so a test's own providers are the only candidates. */
export async function deactivateAllProviders(t: TestApp): Promise<void> {
  const all = (await request(t.server).get(`${API}/providers/`).set(t.auth)).body as { id: number }[];
  for (const p of all) await request(t.server).post(`${API}/providers/${p.id}/deactivate/`).set(t.auth).expect(200);
}
