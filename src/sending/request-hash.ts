import { createHash } from 'node:crypto';

/** JSON with every object's keys sorted, at every level: equal requests give equal text, whatever their key order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** Fields that say how to send, not what: a replay with another value is still the same request. */
const NOT_PART_OF_THE_REQUEST = new Set(['wait', 'idempotency_key']);

/**
 * What an idempotency key is bound to: the SHA-256 of the message as validated (so `"to": "a@x"`
 * and `"to": ["a@x"]` are the same request), headers and attachments included, in any key order.
 * The same for /send/ and for a message of /send/batch/.
 */
export function requestHash(dto: object): string {
  const request = Object.fromEntries(Object.entries(dto).filter(([key]) => !NOT_PART_OF_THE_REQUEST.has(key)));
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}
