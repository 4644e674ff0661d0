import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { AppConfig } from '../config/app-config.js';
import type { ApiKeyEntity } from './api-key.entity.js';
import { newToken } from './api-key.token.js';
import type { ApiKeysRepository } from './api-keys.repository.js';
import { ApiKeysService } from './api-keys.service.js';

/** The rows of api_keys, counting what the service asks of them. */
class FakeKeys {
  readonly rows: ApiKeyEntity[] = [];
  lookups = 0;
  touches = 0;

  add(overrides: Partial<ApiKeyEntity> = {}): string {
    const { token, prefix, hash } = newToken();
    this.rows.push({
      id: this.rows.length + 1,
      name: 'k',
      prefix,
      secretHash: hash,
      scopes: ['send'],
      createdAt: new Date(),
      lastUsedAt: null,
      expiresAt: null,
      revokedAt: null,
      ...overrides,
    });
    return token;
  }

  async findActiveByPrefix(prefix: string): Promise<ApiKeyEntity | null> {
    this.lookups += 1;
    const row = this.rows.find((r) => r.prefix === prefix && !r.revokedAt);
    return row ? { ...row } : null;
  }

  async revoke(id: number): Promise<boolean> {
    const row = this.rows.find((r) => r.id === id && !r.revokedAt);
    if (row) row.revokedAt = new Date();
    return !!row;
  }

  async touch(id: number): Promise<void> {
    this.touches += 1;
    const row = this.rows.find((r) => r.id === id);
    if (row) row.lastUsedAt = new Date();
  }
}

function service(ttlSeconds = 5) {
  const keys = new FakeKeys();
  const config = { adminApiKey: undefined, apiKeyCacheMs: ttlSeconds * 1000 } as unknown as AppConfig;
  return { keys, svc: new ApiKeysService(keys as unknown as ApiKeysRepository, config) };
}

describe(ApiKeysService.name, () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z'), doNotFake: ['nextTick', 'setImmediate'] });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('should read a key once, then answer from memory until the TTL runs out', async () => {
    const { keys, svc } = service(5);
    const token = keys.add();
    for (let i = 0; i < 3; i += 1) expect(await svc.authenticate(token)).toEqual({ keyId: 1, scopes: ['send'] });
    expect(keys.lookups).toBe(1);
    jest.advanceTimersByTime(5_000);
    await svc.authenticate(token);
    expect(keys.lookups).toBe(2);
  });

  it('should read the key on every request when the TTL is 0', async () => {
    const { keys, svc } = service(0);
    const token = keys.add();
    await svc.authenticate(token);
    await svc.authenticate(token);
    expect(keys.lookups).toBe(2);
  });

  it('should refuse a key revoked here at once, however long its lookup was to be trusted', async () => {
    const { keys, svc } = service(300);
    const token = keys.add();
    expect(await svc.authenticate(token)).not.toBeNull();
    await svc.revoke(1);
    expect(await svc.authenticate(token)).toBeNull();
  });

  it('should trust a cached lookup of a key revoked elsewhere until the TTL runs out', async () => {
    const { keys, svc } = service(5);
    const token = keys.add();
    await svc.authenticate(token);
    keys.rows[0].revokedAt = new Date(); // another instance revoked it
    expect(await svc.authenticate(token)).not.toBeNull();
    jest.advanceTimersByTime(5_000);
    expect(await svc.authenticate(token)).toBeNull();
  });

  it('should refuse a cached key as soon as it expires', async () => {
    const { keys, svc } = service(300);
    const token = keys.add({ expiresAt: new Date(Date.now() + 1_000) });
    expect(await svc.authenticate(token)).not.toBeNull();
    jest.advanceTimersByTime(1_000);
    await expect(svc.authenticate(token)).rejects.toThrow('Token expired.');
  });

  it('should never cache a wrong token', async () => {
    const { keys, svc } = service(300);
    const token = keys.add();
    const forged = `${token.slice(0, 13)}${'A'.repeat(43)}`;
    expect(await svc.authenticate(forged)).toBeNull();
    expect(await svc.authenticate(forged)).toBeNull();
    expect(keys.lookups).toBe(2);
  });

  it('should record a use at most once a minute per key, cached or not', async () => {
    const { keys, svc } = service(5);
    const token = keys.add();
    for (let i = 0; i < 10; i += 1) {
      await svc.authenticate(token);
      jest.advanceTimersByTime(3_000); // the cache runs out on the way: the row is read again
    }
    expect(keys.touches).toBe(1);
    jest.advanceTimersByTime(60_000);
    await svc.authenticate(token);
    expect(keys.touches).toBe(2);
  });
});
