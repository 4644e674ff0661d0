import { describe, expect, it } from '@jest/globals';
import { ApiKeyCache, type KnownKey } from './api-key-cache.js';

const key = (id: number): KnownKey => ({ id, scopes: ['send'], expiresAt: null, lastUsedAt: null });

function cache(ttlMs = 5_000, maxEntries = 100) {
  let t = 1_000_000;
  const c = new ApiKeyCache({ ttlMs, maxEntries }, () => t);
  return { c, advance: (ms: number) => (t += ms) };
}

describe(ApiKeyCache.name, () => {
  it('should answer a remembered token until the TTL runs out, then forget it', () => {
    const { c, advance } = cache(5_000);
    c.remember('token-a', key(1), c.stamp());
    expect(c.get('token-a')?.id).toBe(1);
    advance(4_999);
    expect(c.get('token-a')?.id).toBe(1);
    advance(1);
    expect(c.get('token-a')).toBeNull();
  });

  it('should answer nothing for a token it was not given', () => {
    const { c } = cache();
    c.remember('token-a', key(1), c.stamp());
    expect(c.get('token-b')).toBeNull();
  });

  it('should forget every token of a key at once when told', () => {
    const { c } = cache();
    c.remember('token-a', key(1), c.stamp());
    c.remember('token-b', key(1), c.stamp());
    c.remember('token-c', key(2), c.stamp());
    c.forgetKey(1);
    expect([c.get('token-a'), c.get('token-b'), c.get('token-c')?.id]).toEqual([null, null, 2]);
  });

  it('should not remember a lookup that started before a key was forgotten', () => {
    const { c } = cache();
    const stamp = c.stamp();
    c.forgetKey(1); // revoked while the lookup read the row
    c.remember('token-a', key(1), stamp);
    expect(c.get('token-a')).toBeNull();
    c.remember('token-a', key(1), c.stamp());
    expect(c.get('token-a')?.id).toBe(1);
  });

  it('should hold at most maxEntries tokens, forgetting the oldest first', () => {
    const { c } = cache(5_000, 3);
    for (const t of ['a', 'b', 'c', 'd']) c.remember(t, key(t.charCodeAt(0)), c.stamp());
    expect(['a', 'b', 'c', 'd'].map((t) => c.get(t) !== null)).toEqual([false, true, true, true]);
  });

  it('should remember nothing when the TTL is 0', () => {
    const { c } = cache(0);
    c.remember('token-a', key(1), c.stamp());
    expect(c.get('token-a')).toBeNull();
  });

  it('should keep no token in clear', () => {
    const { c } = cache();
    const token = 'epk_0123abcd_secret-part-of-the-token-0000000000000000000';
    c.remember(token, key(1), c.stamp());
    expect(JSON.stringify([...(c as unknown as { entries: Map<string, unknown> }).entries.keys()])).not.toContain('secret-part');
  });
});
