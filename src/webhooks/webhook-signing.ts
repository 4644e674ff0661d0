import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** A new signing secret: `whsec_` and the base64 of 32 random bytes, as Standard Webhooks libraries take it. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * The three Standard Webhooks headers for one attempt. With several secrets (during a rotation)
 * `webhook-signature` carries one `v1,` signature per secret, space-separated: a receiver that
 * knows either secret verifies it.
 */
export function signedHeaders(eventId: string, at: Date, body: string, secrets: string[]): Record<string, string> {
  return {
    'webhook-id': eventId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': secrets.map((s) => new Webhook(s).sign(eventId, at, body)).join(' '),
  };
}
