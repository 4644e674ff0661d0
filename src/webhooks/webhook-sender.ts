import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { OutboundPolicy } from '../outbound/outbound-policy.js';

/** What a receiver answered, or why it could not answer. */
export type PostResult = { statusCode: number } | { error: string };

/** Bytes of a receiver's answer read at most (the body is discarded: only the status counts). */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * POSTs a signed event to a receiver. Every connection goes through the outbound host policy:
 * the name is resolved once, each address checked, and the socket opened to a checked address
 * (TLS still verifies the certificate against the URL's host). Redirects are not followed: a 3xx
 * is a failed attempt, as the Standard Webhooks specification asks.
 */
export class WebhookSender {
  constructor(
    private readonly policy: OutboundPolicy,
    private readonly timeoutMs: number,
  ) {}

  async post(url: string, headers: Record<string, string>, body: string): Promise<PostResult> {
    const target = new URL(url);
    // Resolved and checked here, once, for names and IP literals alike (node:net never calls
    // `lookup` for a literal); the socket then goes to one of these addresses only.
    let addresses: string[];
    try {
      ({ addresses } = await this.policy.resolve(target.hostname.replace(/^\[|\]$/g, '')));
    } catch (err) {
      return { error: describe(err as NodeJS.ErrnoException) };
    }
    return this.request(target, addresses, headers, body);
  }

  private request(target: URL, addresses: string[], headers: Record<string, string>, body: string): Promise<PostResult> {
    const client = target.protocol === 'https:' ? https : http;
    return new Promise<PostResult>((resolve) => {
      let settled = false;
      const done = (result: PostResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const req = client.request(
        target,
        {
          method: 'POST',
          agent: false,
          lookup: checkedLookup(addresses),
          headers: {
            ...headers,
            'content-type': 'application/json',
            'content-length': String(Buffer.byteLength(body)),
            'user-agent': 'email-provider-service-webhooks',
          },
        },
        (res) => {
          let read = 0;
          res.on('data', (chunk: Buffer) => {
            read += chunk.length;
            if (read > MAX_ANSWER_BYTES) res.destroy();
          });
          res.on('error', () => undefined);
          res.on('close', () => done({ statusCode: res.statusCode ?? 0 }));
          res.on('end', () => done({ statusCode: res.statusCode ?? 0 }));
        },
      );
      // One bound for the whole exchange: connect, send, and the answer's status line and body.
      const timer = setTimeout(() => {
        done({ error: `no answer within ${this.timeoutMs / 1000} s` });
        req.destroy();
      }, this.timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => done({ error: describe(err) }));
      req.end(body);
    });
  }
}

/** A `lookup` for node:net that answers the addresses the policy already checked, and nothing else. */
function checkedLookup(addresses: string[]): LookupFunction {
  const family = (a: string) => (a.includes(':') ? 6 : 4);
  return (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all)
      (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(
        null,
        addresses.map((address) => ({ address, family: family(address) })),
      );
    else callback(null, addresses[0], family(addresses[0]));
  };
}

/** A connection failure in words: the policy's refusal as it is, a socket error by its code. */
function describe(err: NodeJS.ErrnoException): string {
  if (err.code === 'EOUTBOUND_DENIED' || err.code === 'EDNS') return err.message;
  return err.code ? `${err.code}: ${err.message}`.slice(0, 500) : err.message.slice(0, 500);
}
