import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { OutboundPolicy, parseOutboundAllow } from '../outbound/outbound-policy.js';
import { WebhookSender } from './webhook-sender.js';

describe('WebhookSender', () => {
  let server: http.Server;
  let port: number;
  const seen: { headers: http.IncomingHttpHeaders; body: string }[] = [];
  let answer = 200;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ headers: req.headers, body });
        if (answer === 0) return; // never answer
        res.writeHead(answer, answer === 302 ? { location: 'http://127.0.0.1:1/' } : {}).end('x');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const allowing = (allow: string, timeoutMs = 2000) => new WebhookSender(new OutboundPolicy(parseOutboundAllow(allow)), timeoutMs);

  it('should POST the body with its headers to an allowed host and answer the status', async () => {
    answer = 204;
    const result = await allowing('127.0.0.1').post(`http://127.0.0.1:${port}/x`, { 'webhook-id': 'evt_1' }, '{"a":1}');
    expect(result).toEqual({ statusCode: 204 });
    expect(seen.at(-1)).toMatchObject({ body: '{"a":1}', headers: { 'webhook-id': 'evt_1', 'content-type': 'application/json' } });
  });

  it('should connect to nothing when the outbound policy refuses the host, by name or by address', async () => {
    const before = seen.length;
    const byAddress = await allowing('').post(`http://127.0.0.1:${port}/x`, {}, '{}');
    expect(byAddress).toEqual({ error: expect.stringContaining('Connections to this host are not allowed: it is a loopback address') });
    const byName = await allowing('').post(`http://localhost:${port}/x`, {}, '{}');
    expect(byName).toEqual({ error: expect.stringContaining('not allowed') });
    expect(seen.length).toBe(before);
  });

  it('should not follow a redirect, and give up on a receiver that does not answer in time', async () => {
    answer = 302;
    expect(await allowing('127.0.0.1').post(`http://127.0.0.1:${port}/x`, {}, '{}')).toEqual({ statusCode: 302 });
    answer = 0;
    expect(await allowing('127.0.0.1', 200).post(`http://127.0.0.1:${port}/x`, {}, '{}')).toEqual({ error: 'no answer within 0.2 s' });
  });
});
