import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import type { Authenticator, Principal } from '../common/auth/principal.js';
import type { Scope } from '../common/auth/scopes.js';
import { AppError, ErrorCode } from '../common/errors/app-error.js';
import { loggableError } from '../common/errors/loggable-error.js';
import type { ApiKeyEntity } from './api-key.entity.js';
import { ApiKeyCache, type KnownKey } from './api-key-cache.js';
import { hashMatches, newToken, prefixOf, sameSecret } from './api-key.token.js';
import { ApiKeysRepository, TOUCH_INTERVAL_MS } from './api-keys.repository.js';
import type { ApiKeyCreatedDto, ApiKeyResponseDto } from './dto/api-key-response.dto.js';

/** Tokens one instance remembers at most (a few hundred bytes each). */
const API_KEY_CACHE_ENTRIES = 10_000;

@Injectable()
export class ApiKeysService implements Authenticator {
  private readonly logger = new Logger(ApiKeysService.name);
  private readonly cache: ApiKeyCache;

  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly config: AppConfig,
  ) {
    this.cache = new ApiKeyCache({ ttlMs: config.apiKeyCacheMs, maxEntries: API_KEY_CACHE_ENTRIES });
  }

  async authenticate(token: string): Promise<Principal | null> {
    const admin = this.config.adminApiKey;
    if (admin && sameSecret(token, admin)) return { keyId: null, scopes: ['admin'] };
    const cached = this.cache.get(token);
    // An expired key goes on to the database, which says so (or that it is gone).
    if (cached && !this.expired(cached)) {
      this.recordUse(cached);
      return { keyId: cached.id, scopes: cached.scopes };
    }
    const prefix = prefixOf(token);
    if (!prefix) return null;
    const stamp = this.cache.stamp();
    const key = await this.keys.findActiveByPrefix(prefix);
    if (!key || !hashMatches(token, key.secretHash)) return null;
    const known: KnownKey = { id: key.id, scopes: key.scopes, expiresAt: key.expiresAt, lastUsedAt: key.lastUsedAt };
    // Only the holder of the token learns that it expired; anyone else gets "Invalid token.".
    if (this.expired(known)) throw new AppError(ErrorCode.AuthenticationFailed, 'Token expired.');
    this.cache.remember(token, known, stamp);
    this.recordUse(known);
    return { keyId: key.id, scopes: key.scopes };
  }

  private expired(key: KnownKey): boolean {
    return key.expiresAt !== null && key.expiresAt.getTime() <= Date.now();
  }

  /**
   * last_used_at to the minute: no statement at all while this instance knows the key was used in
   * the last minute (from the row it read, or its own last write), and a conditional UPDATE
   * otherwise (so instances do not all write). It is not awaited: the request does not wait for
   * bookkeeping, nor fail with it.
   */
  private recordUse(key: KnownKey): void {
    if (key.lastUsedAt && Date.now() - key.lastUsedAt.getTime() < TOUCH_INTERVAL_MS) return;
    key.lastUsedAt = new Date();
    this.keys.touch(key.id).catch((err: unknown) => {
      this.logger.warn({ apiKeyId: key.id, err: loggableError(err) }, 'could not record the API key use');
    });
  }

  /** Makes a key and returns its token; only the hash is kept. */
  async create(name: string, scopes: Scope[], expiresAt: Date | null = null): Promise<ApiKeyCreatedDto> {
    const { token, prefix, hash } = newToken();
    const key = await this.keys.create({ name, prefix, secretHash: hash, scopes, expiresAt });
    this.logger.log({ apiKeyId: key.id, prefix, scopes, expiresAt }, 'API key created');
    return { ...this.map(key), key: token };
  }

  async list(): Promise<ApiKeyResponseDto[]> {
    return (await this.keys.listActive()).map((k) => this.map(k));
  }

  async revoke(id: number): Promise<void> {
    const revoked = await this.keys.revoke(id);
    this.cache.forgetKey(id);
    if (!revoked) throw AppError.notFound();
    this.logger.log({ apiKeyId: id }, 'API key revoked');
  }

  private map(key: ApiKeyEntity): ApiKeyResponseDto {
    return {
      id: key.id,
      name: key.name,
      scopes: key.scopes,
      prefix: key.prefix,
      created_at: key.createdAt.toISOString(),
      last_used_at: key.lastUsedAt?.toISOString() ?? null,
      expires_at: key.expiresAt?.toISOString() ?? null,
    };
  }
}
