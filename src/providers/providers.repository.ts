import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, QueryFailedError, type FindOptionsWhere } from 'typeorm';
import { AppError } from '../common/errors/app-error.js';
import type { HealthStatus, Priority, ProviderType } from './provider.constants.js';
import { ProviderEntity } from './provider.entity.js';

/** Arbitrary constant: serialises changes of the default flag between instances. */
const DEFAULT_FLAG_LOCK_KEY = 7_201_003;

export interface ProviderFilter {
  providerType?: ProviderType;
  healthStatus?: HealthStatus;
  isActive?: boolean;
  priority?: Priority;
}

export type ProviderValues = Partial<Omit<ProviderEntity, 'id' | 'createdAt' | 'updatedAt' | 'deletedAt'>>;

/** All SQL about providers. Soft-deleted rows are invisible to every method here. */
@Injectable()
export class ProvidersRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  list(filter: ProviderFilter): Promise<ProviderEntity[]> {
    // TypeORM 1.x rejects undefined in a where clause, so only the filters given are passed.
    const where = Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined)) as FindOptionsWhere<ProviderEntity>;
    return this.dataSource.getRepository(ProviderEntity).find({ where, order: { priority: 'ASC', id: 'ASC' } });
  }

  findById(id: number): Promise<ProviderEntity | null> {
    return this.dataSource.getRepository(ProviderEntity).findOneBy({ id });
  }

  create(values: ProviderValues): Promise<ProviderEntity> {
    return this.write(async (em) => {
      if (values.isDefault) await this.clearDefault(em, null);
      const saved = await em.save(em.create(ProviderEntity, values));
      return em.findOneByOrFail(ProviderEntity, { id: saved.id });
    });
  }

  /** Returns null when there is no such live provider. */
  update(id: number, values: ProviderValues): Promise<ProviderEntity | null> {
    return this.write(async (em) => {
      if (!(await em.existsBy(ProviderEntity, { id }))) return null;
      if (values.isDefault) await this.clearDefault(em, id);
      if (Object.keys(values).length) await em.update(ProviderEntity, { id }, values);
      return em.findOneByOrFail(ProviderEntity, { id });
    });
  }

  /** Soft delete: the row (and later its send history) stays, but no read sees it again. */
  async softDelete(id: number): Promise<boolean> {
    const result = await this.dataSource
      .createQueryBuilder()
      .update(ProviderEntity)
      .set({ deletedAt: () => 'now()', isDefault: false })
      .where('id = :id AND deleted_at IS NULL', { id })
      .execute();
    return (result.affected ?? 0) > 0;
  }

  private async clearDefault(em: EntityManager, keepId: number | null): Promise<void> {
    // Without the lock two concurrent "make X default" calls could each clear the old default
    // and then both set theirs; the unique index would then fail one of them with a 23505.
    await em.query('SELECT pg_advisory_xact_lock($1)', [DEFAULT_FLAG_LOCK_KEY]);
    await em.query('UPDATE providers SET is_default = false WHERE is_default AND deleted_at IS NULL AND id IS DISTINCT FROM $1', [keepId]);
  }

  private async write<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    try {
      return await this.dataSource.transaction(work);
    } catch (err) {
      if (err instanceof QueryFailedError && (err.driverError as { constraint?: string })?.constraint === 'providers_live_name')
        throw AppError.validation({ name: ['email provider with this name already exists.'] });
      throw err;
    }
  }
}
