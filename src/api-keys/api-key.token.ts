import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Tokens look like `epk_<8 hex prefix>_<43 chars of randomness>`. The prefix finds the row;
 * the SHA-256 of the whole token is what we store and compare.
 */
const TOKEN = /^(epk_[0-9a-f]{8})_[A-Za-z0-9_-]{43}$/;

export function newToken(): { token: string; prefix: string; hash: string } {
  const prefix = `epk_${randomBytes(4).toString('hex')}`;
  const token = `${prefix}_${randomBytes(32).toString('base64url')}`;
  return { token, prefix, hash: sha256Hex(token) };
}

export function prefixOf(token: string): string | null {
  return TOKEN.exec(token)?.[1] ?? null;
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** Constant-time equality of two secrets of any length (digests first, so lengths match). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

export function hashMatches(token: string, storedHashHex: string): boolean {
  return timingSafeEqual(Buffer.from(sha256Hex(token), 'hex'), Buffer.from(storedHashHex, 'hex'));
}
