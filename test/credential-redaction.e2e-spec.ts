import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { API, startApp, type TestApp } from './support/app.js';
import { fastSendingEnv, providerFor, waitForMessage } from './support/sending.js';
import { smtpServers, type FaultPlan } from './support/smtp-server.js';

const USER = 'echo-user';
const PASS = 'Echo-Secret-97!';
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unpadded = (s: string) => s.replace(/=+$/, '');
/** What nodemailer sends for AUTH PLAIN: base64 of "\0user\0pass". */
const PLAIN_ARG = b64(`\0${USER}\0${PASS}`);
/** Cut short and unpadded, as a server that truncates what it quotes; still most of the password. */
const PLAIN_ARG_CUT = unpadded(PLAIN_ARG).slice(0, -2);

type Echo = NonNullable<FaultPlan['onAuth']>;

describe('Credentials a server echoes in its reply never reach responses, stored replies or logs', () => {
  let t: TestApp;
  const servers = smtpServers();

  beforeAll(async () => {
    // A threshold of 1: the first failed send is logged, with its reply, as the provider turning unhealthy.
    t = await startApp({ env: fastSendingEnv({ HEALTH_FAILURE_THRESHOLD: '1' }) });
  });
  afterEach(async () => {
    await servers.closeAll();
  });
  afterAll(async () => {
    await t.close();
  });

  it.each<[string, 'PLAIN' | 'LOGIN', Echo, string[]]>([
    [
      'the AUTH PLAIN argument',
      'PLAIN',
      (a) => ({ code: 535, message: `5.7.8 ${b64(`\0${a.username}\0${a.password}`)} rejected` }),
      [PASS, unpadded(PLAIN_ARG)],
    ],
    [
      'the AUTH PLAIN argument unpadded and cut short',
      'PLAIN',
      () => ({ code: 535, message: `5.7.8 credentials ${PLAIN_ARG_CUT}... rejected` }),
      [PASS, PLAIN_ARG_CUT],
    ],
    [
      "AUTH LOGIN's base64 user and password, and the password in clear",
      'LOGIN',
      (a) => ({ code: 535, message: `5.7.8 ${b64(a.username)} / ${b64(a.password)} (${a.password}) rejected` }),
      [PASS, unpadded(b64(PASS)), unpadded(b64(USER))],
    ],
  ])('should redact %s', async (_, mechanism, echo, secrets) => {
    const sink = await servers.start({
      starttls: true,
      authMethods: [mechanism],
      auth: { user: USER, pass: PASS },
      faults: { onAuth: echo },
    });
    const p = await providerFor(t, sink, { smtp_use_tls: true, smtp_username: USER, smtp_password: PASS });
    const get = async (path: string) => (await request(t.server).get(`${API}${path}`).set(t.auth).expect(200)).body;

    const tested = await request(t.server)
      .post(`${API}/providers/${p.id}/test/`)
      .set(t.auth)
      .send({ test_email: 'to@example.com' })
      .expect(400);
    const sent = await request(t.server)
      .post(`${API}/send/`)
      .set(t.auth)
      .send({ to: 'to@example.com', subject: 'Hi', text: 'Body', provider_id: p.id })
      .expect(202);
    const message = await waitForMessage(t, sent.body.id, (m) => (m.attempts?.length ?? 0) >= 1 && m.last_error !== null);
    const checked = await request(t.server).post(`${API}/providers/${p.id}/health_check/`).set(t.auth).expect(200);
    const history = await get(`/providers/${p.id}/health_history/`);
    const status = await get('/providers/health_status/');
    const detail = await get(`/providers/${p.id}/`);

    // The server's reply is still there, only the credentials are gone.
    const reply = history.results[0].smtp_reply as string;
    expect(reply).toMatch(/^535 5\.7\.8 .*\[redacted\].* rejected$/);
    expect(checked.body.error).toContain(reply);
    expect(tested.body.error).toContain('[redacted]');
    expect(message.last_error).toContain('[redacted]');
    expect(message.attempts?.[0]).toMatchObject({ outcome: 'provider_failure', smtp_code: 535 });
    expect(status.find((s: { provider_id: number }) => s.provider_id === p.id).last_error).toContain('[redacted]');
    expect(t.logs.text()).toMatch(/provider unhealthy after 1 failed sends in a row.*health check failed/s);

    const seen = {
      health_check: JSON.stringify(checked.body),
      test: JSON.stringify(tested.body),
      message: JSON.stringify(message),
      health_history: JSON.stringify(history),
      health_status: JSON.stringify(status),
      provider: JSON.stringify(detail),
      logs: t.logs.text(),
    };
    for (const [where, text] of Object.entries(seen))
      for (const secret of secrets) expect({ where, secret, leaked: text.includes(secret) }).toEqual({ where, secret, leaked: false });
  });
});
