import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, QueryFailedError, type FindOptionsWhere } from 'typeorm';
import { AppError } from '../common/errors/app-error.js';
import type { SesAccountState } from '../provider-types/check-outcome.js';
import type { SecretName } from '../provider-types/provider-type.js';
import type { HealthStatus, Priority, ProviderType } from './provider.constants.js';
import { ProviderEntity } from './provider.entity.js';

/**
 * SET clauses that schedule the first recovery probe when a provider turns unhealthy (and clear
 * the schedule when it is healthy); `unhealthy` is the SQL condition for the new state.
 */
const PROBE_SCHEDULE_ON_TRANSITION = (was: string, unhealthy: string, at: string, after: string) => `
  next_probe_at = CASE WHEN NOT (${unhealthy}) THEN NULL
                       WHEN ${was} <> 'unhealthy' THEN ${at}::timestamptz + make_interval(secs => ${after}::float8)
                       ELSE next_probe_at END,
  probe_attempts = CASE WHEN ${was} = 'unhealthy' AND (${unhealthy}) THEN probe_attempts ELSE 0 END`;

/** Arbitrary constant: serialises changes of the default flag between instances. */
const DEFAULT_FLAG_LOCK_KEY = 7_201_003;

export interface ProviderFilter {
  providerType?: ProviderType;
  healthStatus?: HealthStatus;
  isActive?: boolean;
  priority?: Priority;
}

export type ProviderValues = Partial<Omit<ProviderEntity, 'id' | 'createdAt' | 'updatedAt' | 'deletedAt'>>;

/** Rows of a statement with RETURNING: TypeORM answers UPDATE and DELETE with [rows, count]. */
export function returningRows<T = unknown>(result: unknown): T[] {
  const isPair = Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number';
  return (isPair ? result[0] : result) as T[];
}

/** All SQL about providers. Soft-deleted rows are invisible to every method here. */
@Injectable()
export class ProvidersRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  list(filter: ProviderFilter): Promise<ProviderEntity[]> {
    // TypeORM 1.x rejects undefined in a where clause, so only the filters given are passed.
    const where = Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined)) as FindOptionsWhere<ProviderEntity>;
    return this.dataSource.getRepository(ProviderEntity).find({ where, order: { priority: 'ASC', id: 'ASC' } });
  }

  /** Live providers in the order the sender tries them: the default first, then by priority. */
  listForSending(): Promise<ProviderEntity[]> {
    return this.dataSource.getRepository(ProviderEntity).find({ order: { isDefault: 'DESC', priority: 'ASC', id: 'ASC' } });
  }

  async secretToken(id: number, secret: SecretName): Promise<string | null> {
    const column = secret === 'smtp_password' ? 'smtp_password_encrypted' : 'aws_secret_access_key_encrypted';
    const rows: { token: string | null }[] = await this.dataSource.query(`SELECT ${column} AS token FROM providers WHERE id = $1`, [id]);
    return rows[0]?.token ?? null;
  }

  findById(id: number): Promise<ProviderEntity | null> {
    return this.dataSource.getRepository(ProviderEntity).findOneBy({ id });
  }

  /** See ProvidersService.acceptsSesTopic: one statement, so two first messages cannot both be kept. */
  async pinSesTopic(id: number, topicArn: string): Promise<boolean | null> {
    const rows = (await this.dataSource.query(
      `WITH p AS (
         SELECT id, ses_topic_arn FROM providers WHERE id = $1 AND deleted_at IS NULL AND provider_type = 'aws_ses' FOR UPDATE),
       pinned AS (
         UPDATE providers SET ses_topic_arn = $2 WHERE id IN (SELECT id FROM p WHERE ses_topic_arn IS NULL) RETURNING id)
       SELECT coalesce(p.ses_topic_arn, $2) = $2 AS accepted, (SELECT count(*) FROM pinned)::int AS pinned FROM p`,
      [id, topicArn],
    )) as { accepted: boolean }[];
    return rows.length ? rows[0].accepted : null;
  }

  existsByName(name: string): Promise<boolean> {
    return this.dataSource.getRepository(ProviderEntity).existsBy({ name });
  }

  create(values: ProviderValues): Promise<ProviderEntity> {
    return this.write(async (em) => {
      if (values.isDefault) await this.clearDefault(em, null);
      const saved = await em.save(em.create(ProviderEntity, values));
      return em.findOneByOrFail(ProviderEntity, { id: saved.id });
    });
  }

  /**
   * Returns null when there is no such live provider. `connectionChanged` marks new connection
   * settings: cached transports become stale and health is unknown until the next check.
   */
  update(id: number, values: ProviderValues, connectionChanged = false): Promise<ProviderEntity | null> {
    return this.write(async (em) => {
      if (!(await em.existsBy(ProviderEntity, { id }))) return null;
      if (values.isDefault) await this.clearDefault(em, id);
      const set = connectionChanged
        ? { ...values, healthStatus: 'unknown' as const, credentialsVersion: () => 'credentials_version + 1' }
        : values;
      if (Object.keys(set).length) await em.createQueryBuilder().update(ProviderEntity).set(set).where('id = :id', { id }).execute();
      return em.findOneByOrFail(ProviderEntity, { id });
    });
  }

  /**
   * An active check's verdict: healthy resets the failure count and the probes; unhealthy starts
   * the clock, and the first recovery probe `probeAfterSeconds` later. Answers the status before.
   */
  async recordCheck(id: number, healthy: boolean, at: Date, error: string | null, probeAfterSeconds: number): Promise<string | null> {
    const rows = returningRows<{ was: string }>(
      await this.dataSource.query(
        `WITH before AS (SELECT health_status FROM providers WHERE id = $1 FOR UPDATE)
         UPDATE providers p SET
           health_status = CASE WHEN $2 THEN 'healthy' ELSE 'unhealthy' END,
           last_health_check = $3, last_error = $4,
           consecutive_failures = CASE WHEN $2 THEN 0 ELSE p.consecutive_failures END,
           unhealthy_since = CASE WHEN $2 THEN NULL ELSE coalesce(p.unhealthy_since, $3) END,
           ${PROBE_SCHEDULE_ON_TRANSITION('before.health_status', 'NOT $2', '$3', '$5')}
         FROM before WHERE p.id = $1 RETURNING before.health_status AS was`,
        [id, healthy, at, error, probeAfterSeconds],
      ),
    );
    return rows[0]?.was ?? null;
  }

  /**
   * What SES's GetAccount answered at a check started at `at` (an older check finishing late
   * changes nothing). Other senders' share of SentLast24Hours is estimated here: SES's count less
   * this service's reservations in the hours wholly inside the 24 hours before the check (so it
   * is rather too high than too low), for the 24-hour limit in `rate_limit_decide`.
   */
  async recordSesAccount(id: number, at: Date, a: SesAccountState): Promise<void> {
    await this.dataSource.query(
      `UPDATE providers SET
         ses_sending_enabled = $3, ses_enforcement_status = $4, ses_production_access_enabled = $5,
         ses_max_24_hour_send = $6, ses_max_send_rate = $7, ses_sent_last_24_hours = $8, ses_checked_at = $2,
         ses_sent_by_others_24h = greatest(0, $8::float8 - (
           SELECT coalesce(sum(reserved), 0) FROM provider_hourly_usage
            WHERE provider_id = $1 AND hour_start > date_trunc('hour', ($2::timestamptz AT TIME ZONE 'UTC') - interval '24 hours')))
       WHERE id = $1 AND (ses_checked_at IS NULL OR ses_checked_at <= $2)`,
      [
        id,
        at,
        a.sendingEnabled,
        a.enforcementStatus?.slice(0, 32) ?? null,
        a.productionAccessEnabled,
        a.max24HourSend,
        a.maxSendRate,
        a.sentLast24Hours,
      ],
    );
  }

  /**
   * A provider-side send failure (or an outcome left unknown); the threshold-th in a row turns the
   * provider unhealthy. Attempts that started before the last failure was seen belong to the same
   * outage (a burst in flight) and count once. Returns the health status after the update.
   */
  async recordSendFailure(
    id: number,
    opts: { threshold: number; startedAt: Date; at: Date; error: string; probeAfterSeconds: number },
  ): Promise<string | null> {
    const newObservation = '(last_failure_at IS NULL OR $5 > last_failure_at)';
    const failures = `consecutive_failures + CASE WHEN ${newObservation} THEN 1 ELSE 0 END`;
    const unhealthy = `(health_status = 'unhealthy' OR ${failures} >= $2)`;
    const rows = returningRows<{ health_status: string }>(
      await this.dataSource.query(
        `UPDATE providers SET
           consecutive_failures = ${failures}, last_error = $4,
           last_failure_at = greatest(last_failure_at, $3),
           health_status = CASE WHEN ${unhealthy} THEN 'unhealthy' ELSE health_status END,
           unhealthy_since = CASE WHEN ${unhealthy} THEN coalesce(unhealthy_since, $3) ELSE unhealthy_since END,
           ${PROBE_SCHEDULE_ON_TRANSITION('health_status', unhealthy, '$3', '$6')}
         WHERE id = $1 RETURNING health_status`,
        [id, opts.threshold, opts.at, opts.error, opts.startedAt, opts.probeAfterSeconds],
      ),
    );
    return rows[0]?.health_status ?? null;
  }

  /** A send the provider accepted: the failure streak ends and an unhealthy provider is healthy again. */
  async recordSendSuccess(id: number): Promise<boolean> {
    // Conditional, so the common case (nothing to reset) writes nothing.
    const rows = returningRows(
      await this.dataSource.query(
        `UPDATE providers SET consecutive_failures = 0, unhealthy_since = NULL, next_probe_at = NULL, probe_attempts = 0,
           health_status = CASE WHEN health_status = 'unhealthy' THEN 'healthy' ELSE health_status END
         WHERE id = $1 AND (consecutive_failures <> 0 OR health_status = 'unhealthy') RETURNING id`,
        [id],
      ),
    );
    return rows.length > 0;
  }

  /**
   * Claims the recovery probes due now, once across all instances: each claimed provider's next
   * probe moves out by the initial interval doubled per probe so far, up to `maxSeconds`.
   */
  async claimDueProbes(now: Date, initialSeconds: number, maxSeconds: number): Promise<number[]> {
    const rows = returningRows<{ id: number }>(
      await this.dataSource.query(
        `UPDATE providers SET
           next_probe_at = $1::timestamptz + make_interval(secs => least($3::float8, $2::float8 * power(2, probe_attempts + 1))),
           probe_attempts = least(probe_attempts + 1, 30)
         WHERE health_status = 'unhealthy' AND is_active AND deleted_at IS NULL AND next_probe_at <= $1
         RETURNING id`,
        [now, initialSeconds, maxSeconds],
      ),
    );
    return rows.map((r) => r.id);
  }

  /** Ids of every row holding a secret, soft-deleted ones included: their tokens must stay readable. */
  async idsWithSecrets(): Promise<number[]> {
    const rows: { id: number }[] = await this.dataSource.query(
      'SELECT id FROM providers WHERE smtp_password_encrypted IS NOT NULL OR aws_secret_access_key_encrypted IS NOT NULL ORDER BY id',
    );
    return rows.map((r) => r.id);
  }

  /**
   * Rewrites one row's secret tokens in its own short transaction, under a row lock so a
   * concurrent credentials update is not overwritten. `rewrite` returns null for "unchanged".
   */
  rewriteSecrets(id: number, rewrite: (token: string) => string | null): Promise<boolean> {
    return this.dataSource.transaction(async (em) => {
      const rows: { smtp: string | null; aws: string | null }[] = await em.query(
        'SELECT smtp_password_encrypted AS smtp, aws_secret_access_key_encrypted AS aws FROM providers WHERE id = $1 FOR UPDATE',
        [id],
      );
      if (!rows.length) return false;
      const smtp = rows[0].smtp === null ? null : rewrite(rows[0].smtp);
      const aws = rows[0].aws === null ? null : rewrite(rows[0].aws);
      if (smtp === null && aws === null) return false;
      await em.query(
        `UPDATE providers SET smtp_password_encrypted = COALESCE($2, smtp_password_encrypted),
                              aws_secret_access_key_encrypted = COALESCE($3, aws_secret_access_key_encrypted)
         WHERE id = $1`,
        [id, smtp, aws],
      );
      return true;
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
