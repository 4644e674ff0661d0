import type { Scope } from '../common/auth/scopes.js';
import { sha256Hex } from './api-key.token.js';

/** What a successful lookup of a token found; `lastUsedAt` is this instance's latest knowledge of it. */
export interface KnownKey {
  id: number;
  scopes: Scope[];
  expiresAt: Date | null;
  lastUsedAt: Date | null;
}

export interface ApiKeyCacheOptions {
  /** How long a lookup is trusted; 0 turns the cache off. */
  ttlMs: number;
  /** Tokens remembered at most; the oldest is forgotten first. */
  maxEntries: number;
}

/**
 * Successful API key lookups, for a few seconds, so a busy client costs no query per request.
 * Keyed by the SHA-256 of the token: the token itself is never kept. Failed lookups are never
 * cached (a wrong token always reaches the database and the failure throttle).
 *
 * A key revoked here is forgotten at once (`forgetKey`); another instance forgets it when its
 * entry runs out, so a revocation takes effect everywhere within `ttlMs`. Expiry is checked on
 * every hit, so an expiring key stops at once even while cached.
 */
export class ApiKeyCache {
  private readonly entries = new Map<string, { key: KnownKey; until: number }>();
  /** Bumped by every `forgetKey`: a lookup that started before one must not be cached after it. */
  private generation = 0;

  constructor(
    private readonly options: ApiKeyCacheOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** The key this token opened within the last `ttlMs`, or null. */
  get(token: string): KnownKey | null {
    if (this.options.ttlMs <= 0) return null;
    const hash = sha256Hex(token);
    const entry = this.entries.get(hash);
    if (!entry) return null;
    if (entry.until <= this.now()) {
      this.entries.delete(hash);
      return null;
    }
    return entry.key;
  }

  /** Taken before a database lookup and handed to `remember`, which ignores it if a key was forgotten meanwhile. */
  stamp(): number {
    return this.generation;
  }

  remember(token: string, key: KnownKey, stamp: number): void {
    if (this.options.ttlMs <= 0 || stamp !== this.generation) return;
    const hash = sha256Hex(token);
    this.entries.delete(hash);
    while (this.entries.size >= this.options.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(hash, { key, until: this.now() + this.options.ttlMs });
  }

  /** Forgets every token of this key (it was revoked or changed). */
  forgetKey(id: number): void {
    this.generation += 1;
    for (const [hash, entry] of this.entries) if (entry.key.id === id) this.entries.delete(hash);
  }
}
