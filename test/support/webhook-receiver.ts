import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedEvent {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  event: { type: string; timestamp: string; data: Record<string, unknown> };
  /** What this receiver answered. */
  answered: number | 'hung';
}

/** How the receiver answers the next request: a status code, or `hang` (never answer). */
export type Answer = number | 'hang';

/**
 * A real HTTP receiver on loopback that records every POST with its Standard Webhooks headers
 * and answers as the test says (200 unless told otherwise).
 */
export class WebhookReceiver {
  readonly received: ReceivedEvent[] = [];
  private answer: (event: ReceivedEvent) => Answer = () => 200;
  private delayMs = 0;
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const header = (name: string) => String(req.headers[name] ?? '');
      let event: ReceivedEvent['event'];
      try {
        event = JSON.parse(body) as ReceivedEvent['event'];
      } catch {
        event = { type: '(unparsable)', timestamp: '', data: {} };
      }
      const received: ReceivedEvent = {
        id: header('webhook-id'),
        timestamp: header('webhook-timestamp'),
        signature: header('webhook-signature'),
        body,
        event,
        answered: 200,
      };
      const answer = this.answer(received);
      received.answered = answer === 'hang' ? 'hung' : answer;
      this.received.push(received);
      if (answer === 'hang') return;
      setTimeout(() => res.writeHead(answer, { 'content-type': 'text/plain' }).end('ok'), this.delayMs);
    });
  });

  static async start(): Promise<WebhookReceiver> {
    const r = new WebhookReceiver();
    await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve));
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks`;
  }

  answerWith(answer: Answer | ((event: ReceivedEvent) => Answer), delayMs = 0): void {
    this.answer = typeof answer === 'function' ? answer : () => answer;
    this.delayMs = delayMs;
  }

  /** The events answered with a 2xx, of these types. */
  delivered(...types: string[]): ReceivedEvent[] {
    return this.received.filter(
      (r) => typeof r.answered === 'number' && r.answered < 300 && (!types.length || types.includes(r.event.type)),
    );
  }

  async waitFor(done: (received: ReceivedEvent[]) => boolean, timeoutMs = 15_000): Promise<ReceivedEvent[]> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.received)) {
      if (Date.now() > deadline)
        throw new Error(
          `webhook receiver: condition not met in ${timeoutMs} ms; got ${JSON.stringify(this.received.map((r) => [r.event.type, r.answered]))}`,
        );
      await new Promise((r) => setTimeout(r, 25));
    }
    return this.received;
  }

  /** Throws unless `secret` verifies the request exactly as a Standard Webhooks receiver would (timestamp tolerance included). */
  static verify(r: ReceivedEvent, secret: string): unknown {
    return new Webhook(secret).verify(r.body, { 'webhook-id': r.id, 'webhook-timestamp': r.timestamp, 'webhook-signature': r.signature });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
