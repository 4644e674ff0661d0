import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import net from 'node:net';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { ProviderImportService } from '../src/providers/provider-import.service.js';
import { API, startApp, type TestApp } from './support/app.js';
import { smtpProviderBody } from './support/factories.js';
import { deactivateAllProviders, fastSendingEnv, providerFor, waitForMessage, type MessageBody } from './support/sending.js';
import { smtpServers, type TestSmtpServer } from './support/smtp-server.js';

/** The service an attacker would probe: it answers with a banner, and counts who connected. */
class BannerListener {
  connections = 0;
  private readonly server = net.createServer((socket) => {
    this.connections += 1;
    socket.on('error', () => undefined);
    socket.end('SSH-2.0-OpenSSH_9.6p1 internal-only\r\n');
  });

  static async start(host: string): Promise<BannerListener> {
    const l = new BannerListener();
    await new Promise<void>((resolve, reject) => l.server.once('error', reject).listen(0, host, resolve));
    return l;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

// OUTBOUND_ALLOW=127.0.0.2 in this file: the allowed listener is on 127.0.0.2 (Linux routes all of
// 127/8 to the loopback interface), the denied ones on 127.0.0.1 and ::1, so that `localhost`
// (127.0.0.1 here) is a name that resolves to a denied address.
const ALLOWED = '127.0.0.2';

/** Every spelling of a loopback or local address the audit used, and more; each reaches the 127.0.0.1 (or ::1) listener if connected to. */
const DENIED_AT_CONNECT: [string, 'v4' | 'v6'][] = [
  ['127.0.0.1', 'v4'],
  ['localhost', 'v4'],
  ['0.0.0.0', 'v4'],
  ['0x7f000001', 'v4'],
  ['2130706433', 'v4'],
  ['127.1', 'v4'],
  ['0177.0.0.1', 'v4'],
  ['::ffff:127.0.0.1', 'v4'],
  ['::1', 'v6'],
];

/** What the API accepts as a host name or IP and the policy refuses, plus spellings the field's own format rejects (400 all the same). */
const DENIED_AT_SAVE = [
  '127.0.0.1',
  'localhost',
  'LocalHost.',
  '::1',
  '0.0.0.0',
  '0x7f000001',
  '::ffff:127.0.0.1',
  '::ffff:7f00:1',
  '2130706433',
  '127.1',
  '0177.0.0.1',
  '10.0.0.1',
  '172.16.5.4',
  '192.168.1.1',
  '100.64.0.1',
  '169.254.169.254',
  'fe80::1',
  'fd00::1',
  '224.0.0.1',
  '255.255.255.255',
];

type History = { results: { healthy: boolean; error_class: string | null; smtp_reply: string | null }[] };

describe('Outbound host policy (SSRF): providers reach only allowed hosts, checked at save and at connect', () => {
  let t: TestApp;
  const servers = smtpServers();
  let allowed: TestSmtpServer;
  let v4: BannerListener;
  let v6: BannerListener;

  const post = (path: string, body: unknown) =>
    request(t.server)
      .post(`${API}${path}`)
      .set(t.auth)
      .send(body as object);
  const provider = async (id: number) =>
    (await request(t.server).get(`${API}/providers/${id}/`).set(t.auth).expect(200)).body as Record<string, unknown>;
  const expectHostRefused = (res: request.Response) => {
    expect(res.status).toBe(400);
    expect(Object.keys(res.body as object)).toEqual(['smtp_host']);
    expect(res.body.smtp_host).toEqual([expect.any(String)]);
  };
  /**
   * A stored host an API user could not save: written straight into the row (as if saved before
   * the policy, or by a name whose DNS changed), with health reset so that the sender tries it.
   */
  const pointAt = async (id: number, host: string, port: number) => {
    await t.app.get(DataSource).query(
      `UPDATE providers SET smtp_host = $1, smtp_port = $2, credentials_version = credentials_version + 1,
         health_status = 'unknown', consecutive_failures = 0, unhealthy_since = NULL WHERE id = $3`,
      [host, port, id],
    );
  };

  beforeAll(async () => {
    t = await startApp({ env: fastSendingEnv({ OUTBOUND_ALLOW: ALLOWED }) });
    v4 = await BannerListener.start('127.0.0.1');
    v6 = await BannerListener.start('::1');
  });
  beforeEach(async () => {
    await deactivateAllProviders(t);
    allowed = await servers.start({ host: ALLOWED });
    v4.connections = 0;
    v6.connections = 0;
  });
  afterEach(async () => {
    await servers.closeAll();
  });
  afterAll(async () => {
    await v4.close();
    await v6.close();
    await t.close();
  });

  describe('when the host is saved', () => {
    it.each(DENIED_AT_SAVE)(
      'should refuse %p with a 400 keyed smtp_host on create, PUT, PATCH, update_credentials and import',
      async (host) => {
        const port = v4.port;
        expectHostRefused(await post('/providers/', smtpProviderBody({ smtp_host: host, smtp_port: port })));

        const p = await providerFor(t, allowed);
        expectHostRefused(await request(t.server).put(`${API}/providers/${p.id}/`).set(t.auth).send({ smtp_host: host, smtp_port: port }));
        expectHostRefused(await request(t.server).patch(`${API}/providers/${p.id}/`).set(t.auth).send({ smtp_host: host }));
        expectHostRefused(await post(`/providers/${p.id}/update_credentials/`, { smtp_host: host, smtp_port: port }));
        expect(await provider(p.id)).toMatchObject({ smtp_host: ALLOWED, smtp_port: allowed.port });

        const body = smtpProviderBody({ smtp_host: host, smtp_port: port });
        const [outcome] = await t.app.get(ProviderImportService).importAll([body]);
        expect(outcome).toMatchObject({ outcome: 'rejected', errors: { smtp_host: [expect.any(String)] } });
        expect(Object.keys((outcome as { errors: object }).errors)).toEqual(['smtp_host']);

        expect(v4.connections + v6.connections).toBe(0);
      },
    );

    it('should say why, and that OUTBOUND_ALLOW can open a range an operator uses, but never link-local', async () => {
      const loopback = await post('/providers/', smtpProviderBody({ smtp_host: 'localhost' }));
      expect(loopback.body).toEqual({
        smtp_host: [
          'Connections to this host are not allowed: it resolves to a loopback address (an operator can allow it with OUTBOUND_ALLOW).',
        ],
      });
      const metadata = await post('/providers/', smtpProviderBody({ smtp_host: '169.254.169.254' }));
      expect(metadata.body).toEqual({
        smtp_host: ['Connections to this host are not allowed: it is a link-local address, which is never allowed.'],
      });
    });

    it('should save an allowed address, and a name it cannot resolve yet (checked again at every connection)', async () => {
      await post('/providers/', smtpProviderBody({ smtp_host: ALLOWED })).expect(201);
      const later = await post('/providers/', smtpProviderBody({ smtp_host: 'relay.not-yet.invalid' })).expect(201);
      const p = await providerFor(t, allowed);
      await request(t.server)
        .patch(`${API}/providers/${p.id}/`)
        .set(t.auth)
        .send({ name: `${p.name} renamed` })
        .expect(200);
      await post(`/providers/${p.id}/update_credentials/`, { smtp_host: ALLOWED, smtp_port: allowed.port }).expect(200);
      expect(later.body.smtp_host).toBe('relay.not-yet.invalid');
    });
  });

  describe('when connecting', () => {
    it('should reach an allowed host (the control: the same flows that are refused below work here)', async () => {
      const p = await providerFor(t, allowed);
      const check = await post(`/providers/${p.id}/health_check/`, {}).expect(200);
      expect(check.body).toMatchObject({ is_healthy: true });
      await post(`/providers/${p.id}/test/`, { test_email: 'alice@example.com' }).expect(200);
      expect(allowed.received).toHaveLength(1);
    });

    it.each(DENIED_AT_CONNECT)(
      'should refuse a stored host %p on health_check, test and send with EOUTBOUND_DENIED, and never connect to it',
      async (host, family) => {
        const listener = family === 'v4' ? v4 : v6;
        const denied = await providerFor(t, allowed, { priority: 1 });
        const fallback = await providerFor(t, allowed, { priority: 2 });
        await pointAt(denied.id, host, listener.port);

        const check = await post(`/providers/${denied.id}/health_check/`, {}).expect(200);
        expect(check.body).toMatchObject({ is_healthy: false, health_status: 'unhealthy' });
        expect(check.body.error).toMatch(
          /^EOUTBOUND_DENIED Connections to this host are not allowed: it (is|resolves to) (a loopback address|the unspecified address)/,
        );
        const history = (await request(t.server).get(`${API}/providers/${denied.id}/health_history/`).set(t.auth).expect(200))
          .body as History;
        expect(history.results[0]).toMatchObject({ healthy: false, error_class: 'EOUTBOUND_DENIED' });

        const test = await post(`/providers/${denied.id}/test/`, { test_email: 'alice@example.com' }).expect(400);
        expect(test.body).toMatchObject({ success: false });
        expect(test.body.error).toMatch(/^SMTP Error: EOUTBOUND_DENIED Connections to this host are not allowed/);

        // Not unhealthy any more (the check made it so), for the sender to try it first.
        await pointAt(denied.id, host, listener.port);
        const sent = (await post('/send/', { to: 'bob@example.com', subject: 'Hi', text: 'Hello', wait: true }).expect(200))
          .body as MessageBody;
        expect(sent).toMatchObject({ status: 'sent', provider_id: fallback.id });
        expect(sent.attempts?.map((a) => [a.provider_id, a.outcome, a.error_class])).toEqual([
          [denied.id, 'provider_failure', 'EOUTBOUND_DENIED'],
          [fallback.id, 'accepted', null],
        ]);
        expect(allowed.received).toHaveLength(1);

        // Not one connection, so nothing about the port (open, closed, its banner) can come back.
        expect(listener.connections).toBe(0);
        const everything = JSON.stringify([check.body, history, test.body, sent]);
        expect(everything).not.toContain('SSH-2.0');
        expect(everything).not.toMatch(/ECONNREFUSED|ESOCKET|ETIMEDOUT|EPROTOCOL/);
      },
    );

    it('should refuse a send through a provider the policy denies even when a pooled transport for it exists', async () => {
      const p = await providerFor(t, allowed);
      await post('/send/', { to: 'bob@example.com', subject: 'Before', text: 'Hello', wait: true }).expect(200);
      expect(allowed.received).toHaveLength(1);
      // The row moves to a denied host (credentials_version moves with it): the next send resolves and checks again.
      await pointAt(p.id, 'localhost', v4.port);
      const sent = (await post('/send/', { to: 'bob@example.com', subject: 'After', text: 'Hello', provider_id: p.id }).expect(202))
        .body as MessageBody;
      const done = await waitForMessage(t, sent.id, (m) => Boolean(m.attempts?.length));
      expect(done.attempts?.[0]).toMatchObject({ provider_id: p.id, outcome: 'provider_failure', error_class: 'EOUTBOUND_DENIED' });
      expect(v4.connections).toBe(0);
      expect(allowed.received).toHaveLength(1);
    });
  });
});
