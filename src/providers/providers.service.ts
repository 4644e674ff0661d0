import { Injectable, Logger } from '@nestjs/common';
import { AppError, type FieldErrors } from '../common/errors/app-error.js';
import { CredentialsService } from '../credentials/credentials.service.js';
import type { CheckDetails } from '../provider-types/check-outcome.js';
import type { ProviderTypeFields } from '../provider-types/provider-type.js';
import { ProviderTypeRegistry } from '../provider-types/provider-type.registry.js';
import { RateLimitService } from '../rate-limit/rate-limit.service.js';
import type { Usage } from '../rate-limit/rate-limit.types.js';
import type { ProviderCreateDto } from './dto/provider-create.dto.js';
import type { ProviderCredentialsDto, ProviderCredentialsResponseDto } from './dto/provider-credentials.dto.js';
import type { ProviderListQuery } from './dto/provider-list.query.js';
import type { ProviderResponseDto } from './dto/provider-response.dto.js';
import type { ProviderUpdateDto } from './dto/provider-update.dto.js';
import { providerSesAccount } from './dto/ses-account.dto.js';
import { HEALTH_STATUS_DISPLAY, PRIORITY_DISPLAY, PROVIDER_TYPE_DISPLAY } from './provider.constants.js';
import type { ProviderEntity } from './provider.entity.js';
import type { ProviderHealthStatusDto } from './dto/provider-health-status.dto.js';
import type { ProviderStatisticsDto } from './dto/provider-statistics.dto.js';
import { ProviderStatsRepository } from './provider-stats.repository.js';
import type { SendingProvider } from './sending-provider.js';
import { ProvidersRepository, type ProviderValues } from './providers.repository.js';

const DEFAULT_SMTP_PORT = 587;

export interface SealedSecrets {
  smtpPassword?: string;
  awsSecretAccessKey?: string;
}

const CONNECTION_FIELDS = [
  'providerType',
  'smtpHost',
  'smtpPort',
  'smtpUsername',
  'smtpPasswordEncrypted',
  'smtpUseTls',
  'smtpUseSsl',
  'awsRegion',
  'awsAccessKeyId',
  'awsSecretAccessKeyEncrypted',
  // Cached transports send with it: a new one must make them stale.
  'sesConfigurationSet',
] as const;

function toSendingProvider(p: ProviderEntity): SendingProvider {
  return {
    id: p.id,
    name: p.name,
    providerType: p.providerType,
    isActive: p.isActive,
    isDefault: p.isDefault,
    priority: p.priority,
    healthStatus: p.healthStatus,
    unhealthySince: p.unhealthySince,
    consecutiveFailures: p.consecutiveFailures,
    credentialsVersion: p.credentialsVersion,
    fromEmail: p.fromEmail,
    fromName: p.fromName,
    replyTo: p.replyTo,
    smtpHost: p.smtpHost,
    smtpPort: p.smtpPort,
    smtpUsername: p.smtpUsername,
    hasSmtpPassword: p.hasSmtpPassword,
    smtpUseTls: p.smtpUseTls,
    smtpUseSsl: p.smtpUseSsl,
    awsRegion: p.awsRegion,
    awsAccessKeyId: p.awsAccessKeyId,
    sesConfigurationSet: p.sesConfigurationSet,
  };
}

/** Whether the request names where the provider connects (its host, or its type): then the outbound host policy checks it. */
function sendsDestination(values: ProviderValues): boolean {
  return values.smtpHost !== undefined || values.providerType !== undefined;
}

/** Whether the values change how we connect (a new secret always does). */
function changesConnection(current: ProviderEntity, values: ProviderValues): boolean {
  return CONNECTION_FIELDS.some((f) => values[f] !== undefined && (f.endsWith('Encrypted') || values[f] !== current[f]));
}

@Injectable()
export class ProvidersService {
  private readonly logger = new Logger(ProvidersService.name);

  constructor(
    private readonly providers: ProvidersRepository,
    private readonly credentials: CredentialsService,
    private readonly rateLimits: RateLimitService,
    private readonly stats: ProviderStatsRepository,
    private readonly types: ProviderTypeRegistry,
  ) {}

  async list(query: ProviderListQuery): Promise<ProviderResponseDto[]> {
    const rows = await this.providers.list({
      providerType: query.provider_type,
      healthStatus: query.health_status,
      isActive: query.is_active,
      priority: query.priority,
    });
    return this.mapAll(rows);
  }

  async get(id: number): Promise<ProviderResponseDto> {
    return this.mapOne(await this.require(id));
  }

  /**
   * `sealed` carries secrets that are already Fernet tokens (imported from the old deployment);
   * the caller has checked that a configured key opens them.
   */
  async create(dto: ProviderCreateDto, sealed: SealedSecrets = {}): Promise<ProviderResponseDto> {
    const values = { ...this.toValues(dto), ...this.sealedValues(sealed) };
    values.smtpPort ??= dto.provider_type === 'smtp' ? DEFAULT_SMTP_PORT : null;
    await this.checkConsistency({ ...values, smtpUseTls: values.smtpUseTls ?? true, smtpUseSsl: values.smtpUseSsl ?? false }, true);
    const created = await this.providers.create(values);
    this.logger.log({ providerId: created.id, providerType: created.providerType }, 'provider created');
    return this.mapOne(created);
  }

  async update(id: number, dto: ProviderUpdateDto): Promise<ProviderResponseDto> {
    const current = await this.require(id);
    const values = this.toValues(dto);
    await this.checkConsistency({ ...current, ...values }, sendsDestination(values));
    const updated = await this.providers.update(id, values, changesConnection(current, values));
    if (!updated) throw AppError.notFound();
    this.logger.log({ providerId: id, fields: Object.keys(values) }, 'provider updated');
    return this.mapOne(updated);
  }

  /** Seed section 5: the connection settings in one step; health is unknown until the next check. */
  async updateCredentials(id: number, dto: ProviderCredentialsDto): Promise<ProviderCredentialsResponseDto> {
    const current = await this.require(id);
    const values = this.toValues(dto);
    if (dto.smtp_password === null) Object.assign(values, { smtpPasswordEncrypted: null, hasSmtpPassword: false });
    Object.assign(values, { consecutiveFailures: 0, unhealthySince: null, lastError: null });
    await this.checkConsistency({ ...current, ...values }, sendsDestination(values));
    const updated = await this.providers.update(id, values, true);
    if (!updated) throw AppError.notFound();
    this.logger.log({ providerId: id, fields: Object.keys(dto) }, 'provider credentials updated');
    const p = await this.mapOne(updated);
    return {
      smtp_host: p.smtp_host,
      smtp_port: p.smtp_port,
      smtp_username: p.smtp_username,
      has_smtp_password: p.has_smtp_password,
      smtp_use_tls: p.smtp_use_tls,
      smtp_use_ssl: p.smtp_use_ssl,
      aws_region: p.aws_region,
      aws_access_key_id: p.aws_access_key_id,
      has_aws_secret_access_key: p.has_aws_secret_access_key,
    };
  }

  /**
   * Re-encrypts every stored secret under the primary key, one row per transaction, so it can be
   * interrupted and run again; afterwards older keys can leave FERNET_KEYS.
   */
  async rotateSecrets(): Promise<{ examined: number; rotated: number }> {
    const ids = await this.providers.idsWithSecrets();
    let rotated = 0;
    for (const id of ids) if (await this.providers.rewriteSecrets(id, (token) => this.credentials.rotate(token))) rotated += 1;
    this.logger.log({ examined: ids.length, rotated }, 'provider secrets rotated');
    return { examined: ids.length, rotated };
  }

  /** Seed section 11: each live provider's health, and whether it could take a message right now. */
  async healthStatus(): Promise<ProviderHealthStatusDto[]> {
    const rows = await this.providers.list({});
    return Promise.all(
      rows.map(async (p) => ({
        provider_id: p.id,
        provider_name: p.name,
        provider_type: p.providerType,
        is_healthy: p.healthStatus === 'healthy',
        health_status: p.healthStatus,
        last_health_check: p.lastHealthCheck?.toISOString() ?? null,
        last_error: p.lastError,
        can_send_email: p.isActive && p.healthStatus !== 'unhealthy' && (await this.rateLimits.canSendNow(p.id)),
        ses_account: providerSesAccount(p),
      })),
    );
  }

  /** Answers the health status before the check. What the check learnt besides (`details`) is kept on the provider. */
  async recordCheck(
    id: number,
    healthy: boolean,
    at: Date,
    error: string | null,
    probeAfterSeconds: number,
    details?: CheckDetails,
  ): Promise<string | null> {
    // First, so that the limits know the quota by the time the provider is called healthy.
    if (details?.sesAccount) await this.providers.recordSesAccount(id, at, details.sesAccount);
    return this.providers.recordCheck(id, healthy, at, error, probeAfterSeconds);
  }

  async recordSendFailure(
    id: number,
    opts: { threshold: number; startedAt: Date; at: Date; error: string; probeAfterSeconds: number },
  ): Promise<string | null> {
    return this.providers.recordSendFailure(id, opts);
  }

  async claimDueProbes(now: Date, initialSeconds: number, maxSeconds: number): Promise<number[]> {
    return this.providers.claimDueProbes(now, initialSeconds, maxSeconds);
  }

  async recordSendSuccess(id: number): Promise<boolean> {
    return this.providers.recordSendSuccess(id);
  }

  /** Seed section 10: one row per live provider, from usage counters and daily attempt aggregates. */
  async statistics(days: number): Promise<ProviderStatisticsDto[]> {
    const rows = await this.providers.list({});
    const since = new Date(Date.now() - (days - 1) * 86_400_000);
    const [usage, totals, failovers] = await Promise.all([
      this.rateLimits.usage(rows.map((p) => p.id)),
      this.stats.attemptTotals(since),
      this.stats.failovers(),
    ]);
    const names = new Map(rows.map((p) => [p.id, p.name]));
    const percent = (used: number, limit: number | null) => (limit ? Math.round((used / limit) * 10_000) / 100 : limit === 0 ? 100 : null);
    return rows.map((p) => {
      const u = usage.get(p.id) ?? { sentToday: 0, sentThisMonth: 0 };
      const t = totals.find((x) => x.provider_id === p.id);
      return {
        provider_id: p.id,
        provider_name: p.name,
        provider_type: p.providerType,
        is_active: p.isActive,
        health_status: p.healthStatus,
        emails_sent_today: u.sentToday,
        emails_sent_this_month: u.sentThisMonth,
        daily_limit: p.dailyLimit,
        monthly_limit: p.monthlyLimit,
        daily_usage_percentage: percent(u.sentToday, p.dailyLimit),
        monthly_usage_percentage: percent(u.sentThisMonth, p.monthlyLimit),
        last_health_check: p.lastHealthCheck?.toISOString() ?? null,
        success_rate: t?.attempts ? Math.round((t.accepted / t.attempts) * 10_000) / 100 : null,
        average_response_time: t?.attempts ? Math.round(t.response_time_ms_sum / t.attempts) / 1000 : null,
        total_attempts: t?.attempts ?? 0,
        stale_results: t?.stale_results ?? 0,
        ses_account: providerSesAccount(p),
        failovers: failovers
          .filter((f) => f.from_provider_id === p.id)
          .map((f) => ({
            to_provider_id: f.to_provider_id,
            to_provider_name: names.get(f.to_provider_id) ?? `#${f.to_provider_id} (deleted)`,
            count: f.count,
          })),
      };
    });
  }

  /** Live providers in the order the sender tries them (default first, then priority 1, 2, 3). */
  async sendingOrder(): Promise<SendingProvider[]> {
    return (await this.providers.listForSending()).map(toSendingProvider);
  }

  /** A live provider for sending, or null if it is deleted or unknown. */
  async forSending(id: number): Promise<SendingProvider | null> {
    const p = await this.providers.findById(id);
    return p && toSendingProvider(p);
  }

  /** The secret the provider's type sends with, in clear, for a transport or a check; never log or return it. */
  async secretFor(provider: Pick<SendingProvider, 'id' | 'providerType'>): Promise<string | null> {
    const token = await this.providers.secretToken(provider.id, this.types.of(provider.providerType).secret);
    return token === null ? null : this.credentials.open(token);
  }

  /**
   * Whether the live aws_ses provider `id` takes SNS messages from `topicArn`: its own topic, or
   * the first to arrive (kept from now on). Null when there is no such provider.
   */
  async acceptsSesTopic(id: number, topicArn: string): Promise<boolean | null> {
    return this.providers.pinSesTopic(id, topicArn);
  }

  async existsByName(name: string): Promise<boolean> {
    return this.providers.existsByName(name);
  }

  async setActive(id: number, isActive: boolean): Promise<void> {
    if (!(await this.providers.update(id, { isActive }))) throw AppError.notFound();
    this.logger.log({ providerId: id, isActive }, isActive ? 'provider activated' : 'provider deactivated');
  }

  async remove(id: number): Promise<void> {
    if (!(await this.providers.softDelete(id))) throw AppError.notFound();
    this.logger.log({ providerId: id }, 'provider deleted');
  }

  private sealedValues(sealed: SealedSecrets): ProviderValues {
    const v: ProviderValues = {};
    if (sealed.smtpPassword) Object.assign(v, { smtpPasswordEncrypted: sealed.smtpPassword, hasSmtpPassword: true });
    if (sealed.awsSecretAccessKey)
      Object.assign(v, { awsSecretAccessKeyEncrypted: sealed.awsSecretAccessKey, hasAwsSecretAccessKey: true });
    return v;
  }

  private async require(id: number): Promise<ProviderEntity> {
    const provider = await this.providers.findById(id);
    if (!provider) throw AppError.notFound();
    return provider;
  }

  /** DTO → column values: only the fields the client sent; secrets sealed, blank secrets ignored. */
  private toValues(dto: ProviderUpdateDto & Partial<ProviderCredentialsDto>): ProviderValues {
    const v: ProviderValues = {};
    const set = <K extends keyof ProviderValues>(key: K, value: ProviderValues[K] | undefined) => {
      if (value !== undefined) v[key] = value;
    };
    set('name', dto.name);
    set('providerType', dto.provider_type);
    set('smtpHost', dto.smtp_host);
    set('smtpPort', dto.smtp_port);
    set('smtpUsername', dto.smtp_username === '' ? null : dto.smtp_username);
    set('smtpUseTls', dto.smtp_use_tls);
    set('smtpUseSsl', dto.smtp_use_ssl);
    set('awsRegion', dto.aws_region);
    set('awsAccessKeyId', dto.aws_access_key_id);
    set('sesConfigurationSet', dto.ses_configuration_set === '' ? null : dto.ses_configuration_set);
    set('sesTopicArn', dto.ses_topic_arn === '' ? null : dto.ses_topic_arn);
    set('fromEmail', dto.from_email);
    set('fromName', dto.from_name);
    set('replyTo', dto.reply_to === '' ? null : dto.reply_to);
    set('dailyLimit', dto.daily_limit);
    set('monthlyLimit', dto.monthly_limit);
    set('rateLimitPerMinute', dto.rate_limit_per_minute);
    set('priority', dto.priority);
    set('isActive', dto.is_active);
    set('isDefault', dto.is_default);
    if (dto.smtp_password) {
      v.smtpPasswordEncrypted = this.credentials.seal(dto.smtp_password);
      v.hasSmtpPassword = true;
    }
    if (dto.aws_secret_access_key) {
      v.awsSecretAccessKeyEncrypted = this.credentials.seal(dto.aws_secret_access_key);
      v.hasAwsSecretAccessKey = true;
    }
    return v;
  }

  /**
   * The provider type's rules, checked on the provider as it would be saved; with `destination`,
   * where it would connect too (the outbound host policy, which may resolve a name).
   */
  private async checkConsistency(p: ProviderValues, destination: boolean): Promise<void> {
    if (!p.providerType) return;
    const type = this.types.of(p.providerType);
    const errors = {
      ...(destination ? await type.destinationErrors(p as ProviderTypeFields) : {}),
      ...type.fieldErrors(p as ProviderTypeFields),
    };
    if (Object.keys(errors).length) throw AppError.validation(errors);
  }

  private async mapOne(p: ProviderEntity): Promise<ProviderResponseDto> {
    return (await this.mapAll([p]))[0];
  }

  private async mapAll(rows: ProviderEntity[]): Promise<ProviderResponseDto[]> {
    const usage = await this.rateLimits.usage(rows.map((p) => p.id));
    return rows.map((p) => this.map(p, usage.get(p.id) ?? { sentToday: 0, sentThisMonth: 0 }));
  }

  private map(p: ProviderEntity, usage: Usage): ProviderResponseDto {
    return {
      id: p.id,
      name: p.name,
      provider_type: p.providerType,
      provider_type_display: PROVIDER_TYPE_DISPLAY[p.providerType],
      smtp_host: p.smtpHost,
      smtp_port: p.smtpPort,
      smtp_username: p.smtpUsername,
      has_smtp_password: p.hasSmtpPassword,
      smtp_use_tls: p.smtpUseTls,
      smtp_use_ssl: p.smtpUseSsl,
      aws_region: p.awsRegion,
      aws_access_key_id: p.awsAccessKeyId,
      has_aws_secret_access_key: p.hasAwsSecretAccessKey,
      ses_configuration_set: p.sesConfigurationSet,
      ses_topic_arn: p.sesTopicArn,
      from_email: p.fromEmail,
      from_name: p.fromName,
      reply_to: p.replyTo,
      daily_limit: p.dailyLimit,
      monthly_limit: p.monthlyLimit,
      rate_limit_per_minute: p.rateLimitPerMinute,
      priority: p.priority,
      priority_display: PRIORITY_DISPLAY[p.priority],
      is_default: p.isDefault,
      is_active: p.isActive,
      health_status: p.healthStatus,
      health_status_display: HEALTH_STATUS_DISPLAY[p.healthStatus],
      emails_sent_today: usage.sentToday,
      emails_sent_this_month: usage.sentThisMonth,
      last_health_check: p.lastHealthCheck?.toISOString() ?? null,
      ses_account: providerSesAccount(p),
      created_at: p.createdAt.toISOString(),
      updated_at: p.updatedAt.toISOString(),
    };
  }
}
