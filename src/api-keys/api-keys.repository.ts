import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, IsNull, Repository } from 'typeorm';
import type { Scope } from '../common/auth/scopes.js';
import { ApiKeyEntity } from './api-key.entity.js';

/** last_used_at is recorded at most this often per key. */
export const TOUCH_INTERVAL_MS = 60_000;

/** Arbitrary constant: serialises "create the first admin key" between instances. */
const BOOTSTRAP_LOCK_KEY = 7_201_002;

@Injectable()
export class ApiKeysRepository {
  constructor(
    @InjectRepository(ApiKeyEntity) private readonly repo: Repository<ApiKeyEntity>,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  create(values: { name: string; prefix: string; secretHash: string; scopes: Scope[]; expiresAt?: Date | null }): Promise<ApiKeyEntity> {
    return this.repo.save(this.repo.create(values));
  }

  /**
   * Inserts the key only if the table is empty, atomically across instances. `beforeCommit` runs
   * once the row is in; if it throws, the insert is rolled back.
   */
  createIfNone(
    values: { name: string; prefix: string; secretHash: string; scopes: Scope[] },
    beforeCommit: (key: ApiKeyEntity) => void | Promise<void> = () => undefined,
  ): Promise<ApiKeyEntity | null> {
    return this.dataSource.transaction(async (em) => {
      await em.query('SELECT pg_advisory_xact_lock($1)', [BOOTSTRAP_LOCK_KEY]);
      if ((await em.count(ApiKeyEntity)) > 0) return null;
      const key = await em.save(em.create(ApiKeyEntity, values));
      await beforeCommit(key);
      return key;
    });
  }

  findActiveByPrefix(prefix: string): Promise<ApiKeyEntity | null> {
    return this.repo.findOneBy({ prefix, revokedAt: IsNull() });
  }

  listActive(): Promise<ApiKeyEntity[]> {
    return this.repo.find({ where: { revokedAt: IsNull() }, order: { id: 'ASC' } });
  }

  async revoke(id: number): Promise<boolean> {
    const result = await this.repo.update({ id, revokedAt: IsNull() }, { revokedAt: () => 'now()' });
    return (result.affected ?? 0) > 0;
  }

  /** Records use at most once a minute per key, so authentication is not a write per request. */
  async touch(id: number): Promise<void> {
    await this.repo.query(
      `UPDATE api_keys SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))`,
      [id, TOUCH_INTERVAL_MS / 1000],
    );
  }
}
