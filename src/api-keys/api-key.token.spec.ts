import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { hashMatches, newToken, prefixOf, sameSecret, sha256Hex } from './api-key.token.js';

const TOKEN_FORMAT = /^epk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/;

describe(newToken.name, () => {
  it('should make an epk_ token whose prefix starts it and whose hash is its SHA-256', () => {
    const { token, prefix, hash } = newToken();
    expect(token).toMatch(TOKEN_FORMAT);
    expect(prefix).toMatch(/^epk_[0-9a-f]{8}$/);
    expect(token.startsWith(`${prefix}_`)).toBe(true);
    expect(hash).toBe(createHash('sha256').update(token).digest('hex'));
    expect(hash).not.toContain(token.slice(prefix.length + 1));
  });

  it('should make a different token and prefix when called again', () => {
    const tokens = Array.from({ length: 50 }, () => newToken());
    expect(new Set(tokens.map((t) => t.token)).size).toBe(50);
    expect(new Set(tokens.map((t) => t.prefix)).size).toBe(50);
  });
});

describe(prefixOf.name, () => {
  it('should return the prefix when the token is well formed', () => {
    const { token, prefix } = newToken();
    expect(prefixOf(token)).toBe(prefix);
  });

  it.each([
    ['an empty string', ''],
    ['a random string', 'not-a-token'],
    ['the prefix alone', 'epk_0123abcd'],
    ['upper-case hex in the prefix', `epk_0123ABCD_${'a'.repeat(43)}`],
    ['a secret one character short', `epk_0123abcd_${'a'.repeat(42)}`],
    ['a secret one character long', `epk_0123abcd_${'a'.repeat(44)}`],
    ['a character outside base64url', `epk_0123abcd_${'a'.repeat(42)}+`],
    ['a trailing newline', `epk_0123abcd_${'a'.repeat(43)}\n`],
    ['another scheme in front', `Bearer epk_0123abcd_${'a'.repeat(43)}`],
  ])('should return null when the token is %s', (_, token) => {
    expect(prefixOf(token)).toBeNull();
  });
});

describe(hashMatches.name, () => {
  it('should be true when the hash is of this token', () => {
    const { token, hash } = newToken();
    expect(hashMatches(token, hash)).toBe(true);
  });

  it('should be false when the hash is of another token', () => {
    const { token } = newToken();
    expect(hashMatches(token, newToken().hash)).toBe(false);
    expect(hashMatches(`${token}x`, sha256Hex(token))).toBe(false);
  });
});

describe(sameSecret.name, () => {
  it('should be true when both secrets are equal', () => {
    expect(sameSecret('e2e-admin-key-0123456789abcdef', 'e2e-admin-key-0123456789abcdef')).toBe(true);
  });

  it.each([
    ['shorter', 'e2e-admin-key'],
    ['longer', 'e2e-admin-key-0123456789abcdef-and-more'],
    ['empty', ''],
    ['same length, one character off', 'e2e-admin-key-0123456789abcdeF'],
  ])('should be false without throwing when the other secret is %s', (_, other) => {
    expect(() => sameSecret(other, 'e2e-admin-key-0123456789abcdef')).not.toThrow();
    expect(sameSecret(other, 'e2e-admin-key-0123456789abcdef')).toBe(false);
  });
});
