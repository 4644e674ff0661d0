import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import type { Authenticator, Principal } from '../common/auth/principal.js';
import type { Scope } from '../common/auth/scopes.js';
import { AppError } from '../common/errors/app-error.js';
import type { ApiKeyEntity } from './api-key.entity.js';
import { hashMatches, newToken, prefixOf, sameSecret } from './api-key.token.js';
import { ApiKeysRepository } from './api-keys.repository.js';
import type { ApiKeyCreatedDto, ApiKeyResponseDto } from './dto/api-key-response.dto.js';

@Injectable()
export class ApiKeysService implements Authenticator {
  private readonly logger = new Logger(ApiKeysService.name);

  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly config: AppConfig,
  ) {}

  async authenticate(token: string): Promise<Principal | null> {
    const admin = this.config.adminApiKey;
    if (admin && sameSecret(token, admin)) return { keyId: null, scopes: ['admin'] };
    const prefix = prefixOf(token);
    if (!prefix) return null;
    const key = await this.keys.findActiveByPrefix(prefix);
    if (!key || !hashMatches(token, key.secretHash)) return null;
    await this.keys.touch(key.id);
    return { keyId: key.id, scopes: key.scopes };
  }

  /** Makes a key and returns its token; only the hash is kept. */
  async create(name: string, scopes: Scope[]): Promise<ApiKeyCreatedDto> {
    const { token, prefix, hash } = newToken();
    const key = await this.keys.create({ name, prefix, secretHash: hash, scopes });
    this.logger.log({ apiKeyId: key.id, prefix, scopes }, 'API key created');
    return { ...this.map(key), key: token };
  }

  async list(): Promise<ApiKeyResponseDto[]> {
    return (await this.keys.listActive()).map((k) => this.map(k));
  }

  async revoke(id: number): Promise<void> {
    if (!(await this.keys.revoke(id))) throw AppError.notFound();
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
    };
  }
}
