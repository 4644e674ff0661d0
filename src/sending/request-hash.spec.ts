import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { requestHash } from './request-hash.js';

const base = { to: ['alice@example.com'], subject: 'Hi', text: 'Body', headers: { 'X-A': '1', 'X-B': '2' } };

describe(requestHash.name, () => {
  it('should differ when a header value or an attachment differs', () => {
    expect(requestHash({ ...base, headers: { 'X-A': '1', 'X-B': 'other' } })).not.toBe(requestHash(base));
    const attach = (content: string) => ({ ...base, attachments: [{ filename: 'a.txt', content, content_type: null }] });
    expect(requestHash(attach('QUJD'))).not.toBe(requestHash(attach('REVG')));
  });

  it('should not depend on key order at any level', () => {
    expect(requestHash({ headers: { 'X-B': '2', 'X-A': '1' }, text: 'Body', subject: 'Hi', to: ['alice@example.com'] })).toBe(
      requestHash(base),
    );
  });

  it('should leave out wait and idempotency_key, which say how to send, not what', () => {
    expect(requestHash({ ...base, wait: true, idempotency_key: 'k' })).toBe(requestHash(base));
  });

  it('should give the hash stored before headers and attachments were hashed for a request without them', () => {
    const flat = { to: ['alice@example.com'], subject: 'Hi', text: 'Body', headers: {}, attachments: [], cc: undefined };
    const before = createHash('sha256')
      .update(JSON.stringify(flat, Object.keys(flat).sort()))
      .digest('hex');
    expect(requestHash(flat)).toBe(before);
  });
});
