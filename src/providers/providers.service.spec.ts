import type { AppConfig } from '../config/app-config.js';
import { AwsSesProviderType } from '../provider-types/aws-ses/aws-ses.provider-type.js';
import { ProviderTypeRegistry } from '../provider-types/provider-type.registry.js';
import { SmtpProviderType } from '../provider-types/smtp/smtp.provider-type.js';
import { OutboundPolicy, parseOutboundAllow } from '../outbound/outbound-policy.js';
import { afterAll, beforeEach, describe, expect, it } from '@jest/globals';
import { ConsoleLogger, Logger, type LoggerService } from '@nestjs/common';
import { AppError, ErrorCode } from '../common/errors/app-error.js';
import { CredentialsService } from '../credentials/credentials.service.js';
import { Fernet, FernetKeyRing } from '../credentials/fernet.js';
import type { RateLimitService } from '../rate-limit/rate-limit.service.js';
import type { Usage } from '../rate-limit/rate-limit.types.js';
import type { ProviderCreateDto } from './dto/provider-create.dto.js';
import type { ProviderUpdateDto } from './dto/provider-update.dto.js';
import { ProviderEntity } from './provider.entity.js';
import type { ProvidersRepository, ProviderValues } from './providers.repository.js';
import { ProvidersService } from './providers.service.js';
import type { ProviderStatsRepository } from './provider-stats.repository.js';

/** In-memory stand-in for the repository: keeps rows and records what the service asked for. */
class FakeProvidersRepository implements Pick<ProvidersRepository, 'findById' | 'create' | 'update'> {
  readonly rows = new Map<number, ProviderEntity>();
  readonly created: ProviderValues[] = [];
  readonly updated: { id: number; values: ProviderValues }[] = [];
  private nextId = 1;

  async findById(id: number): Promise<ProviderEntity | null> {
    return this.rows.get(id) ?? null;
  }

  async create(values: ProviderValues): Promise<ProviderEntity> {
    this.created.push(values);
    const now = new Date();
    const row = Object.assign(new ProviderEntity(), {
      smtpHost: null,
      smtpPort: null,
      smtpUsername: null,
      hasSmtpPassword: false,
      smtpUseTls: true,
      smtpUseSsl: false,
      awsRegion: null,
      awsAccessKeyId: null,
      hasAwsSecretAccessKey: false,
      fromName: '',
      replyTo: null,
      dailyLimit: null,
      monthlyLimit: null,
      rateLimitPerMinute: null,
      priority: 1 as const,
      isDefault: false,
      isActive: true,
      healthStatus: 'unknown' as const,
      lastHealthCheck: null,
      ...values,
      id: this.nextId++,
      createdAt: now,
      updatedAt: now,
      deletedAt: null,
    });
    this.rows.set(row.id, row);
    return row;
  }

  async update(id: number, values: ProviderValues): Promise<ProviderEntity | null> {
    this.updated.push({ id, values });
    const row = this.rows.get(id);
    if (!row) return null;
    Object.assign(row, values, { updatedAt: new Date() });
    return row;
  }
}

/** Everything the service logs, rendered, to check no secret reaches a log line. */
class LogRecorder implements LoggerService {
  lines: string[] = [];
  private record = (...args: unknown[]) => void this.lines.push(JSON.stringify(args));
  log = this.record;
  error = this.record;
  warn = this.record;
  debug = this.record;
  verbose = this.record;
}

/** Usage counters are the rate-limit module's business; here every provider has sent nothing. */
class FakeRateLimitService implements Pick<RateLimitService, 'usage'> {
  async usage(providerIds: number[]): Promise<Map<number, Usage>> {
    return new Map(providerIds.map((id) => [id, { sentToday: 0, sentThisMonth: 0 }]));
  }
}

const PASSWORD = 'app-password-Plain-0xC0FFEE';

function smtpDto(overrides: Partial<ProviderCreateDto> = {}): ProviderCreateDto {
  return {
    name: 'Gmail SMTP',
    provider_type: 'smtp',
    smtp_host: 'smtp.gmail.com',
    smtp_port: 587,
    smtp_username: 'sender@example.com',
    smtp_password: PASSWORD,
    smtp_use_tls: true,
    smtp_use_ssl: false,
    from_email: 'sender@example.com',
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the call to be rejected');
    },
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describe(ProvidersService.name, () => {
  const key = Fernet.generateKey();
  let repo: FakeProvidersRepository;
  let credentials: CredentialsService;
  let service: ProvidersService;
  let logs: LogRecorder;

  beforeEach(() => {
    logs = new LogRecorder();
    Logger.overrideLogger(logs);
    repo = new FakeProvidersRepository();
    credentials = new CredentialsService(new FernetKeyRing([key]));
    service = new ProvidersService(
      repo as unknown as ProvidersRepository,
      credentials,
      new FakeRateLimitService() as unknown as RateLimitService,
      {} as ProviderStatsRepository,
      // The real field rules of each type; nothing here sends or checks.
      new ProviderTypeRegistry({
        // Host names resolve to a public address here, without DNS.
        smtp: new SmtpProviderType(
          {} as AppConfig,
          new OutboundPolicy(parseOutboundAllow(''), { lookup: async () => [{ address: '192.0.43.10', family: 4 }] }),
        ),
        aws_ses: new AwsSesProviderType({} as AppConfig),
      }),
    );
  });
  afterAll(() => {
    Logger.overrideLogger(new ConsoleLogger());
  });

  describe('create', () => {
    it('should hand the repository a Fernet token, not the password, when a password is given', async () => {
      await service.create(smtpDto());
      expect(repo.created).toHaveLength(1);
      const values = repo.created[0]!;
      expect(values.hasSmtpPassword).toBe(true);
      expect(values.smtpPasswordEncrypted).toMatch(/^gAAAAA/);
      expect(values.smtpPasswordEncrypted).not.toContain(PASSWORD);
      expect(JSON.stringify(values)).not.toContain(PASSWORD);
      expect(new Fernet(key).decryptToString(values.smtpPasswordEncrypted!)).toBe(PASSWORD);
    });

    it('should answer without the password or its token when the provider is created', async () => {
      const response = await service.create(smtpDto());
      expect(response).toMatchObject({ id: 1, name: 'Gmail SMTP', has_smtp_password: true, provider_type_display: 'Custom SMTP' });
      const rendered = JSON.stringify(response);
      expect(rendered).not.toContain(PASSWORD);
      expect(rendered).not.toContain('gAAAAA');
    });

    it('should log the creation without the password or its token', async () => {
      await service.create(smtpDto());
      const logged = logs.lines.join('\n');
      expect(logged).toContain('provider created');
      expect(logged).not.toContain(PASSWORD);
      expect(logged).not.toContain('gAAAAA');
    });

    it('should store no secret when the password is left out', async () => {
      await service.create(smtpDto({ smtp_password: undefined }));
      expect(repo.created[0]).not.toHaveProperty('smtpPasswordEncrypted');
      expect(repo.created[0]).not.toHaveProperty('hasSmtpPassword');
    });

    it('should default the port to 587 when an smtp provider has none', async () => {
      await service.create(smtpDto({ smtp_port: undefined }));
      expect(repo.created[0]!.smtpPort).toBe(587);
    });

    it('should reject under non_field_errors, storing nothing, when both TLS flags are true', async () => {
      const error = await rejection(service.create(smtpDto({ smtp_use_tls: true, smtp_use_ssl: true })));
      expect(error.code).toBe(ErrorCode.ValidationFailed);
      expect(error.fields).toEqual({ non_field_errors: [expect.stringContaining('cannot both be true')] });
      expect(repo.created).toHaveLength(0);
    });

    it('should reject implicit TLS beside the default STARTTLS when only smtp_use_ssl is given', async () => {
      const error = await rejection(service.create(smtpDto({ smtp_use_tls: undefined, smtp_use_ssl: true })));
      expect(error.fields).toHaveProperty('non_field_errors');
    });

    it('should name each missing aws field when an aws_ses provider lacks them', async () => {
      const error = await rejection(service.create({ name: 'SES', provider_type: 'aws_ses', from_email: 'ses@example.com' }));
      expect(error.fields).toEqual({
        aws_region: ['This field is required.'],
        aws_access_key_id: ['This field is required.'],
        aws_secret_access_key: ['This field is required.'],
      });
      expect(repo.created).toHaveLength(0);
    });
  });

  describe('update', () => {
    it('should reject with NotFound, touching nothing, when the id is unknown', async () => {
      const error = await rejection(service.update(404, { name: 'ghost' }));
      expect(error.code).toBe(ErrorCode.NotFound);
      expect(error.detail).toBe('Not found.');
      expect(repo.updated).toHaveLength(0);
    });

    it.each<[string, ProviderUpdateDto]>([
      ['blank', { smtp_password: '', name: 'Renamed' }],
      ['null', { smtp_password: null, name: 'Renamed' }],
      ['left out', { name: 'Renamed' }],
    ])('should leave the secret columns out of the update when the password is %s', async (_, dto) => {
      const created = await service.create(smtpDto());
      const response = await service.update(created.id, dto);
      expect(repo.updated).toHaveLength(1);
      const { values } = repo.updated[0]!;
      expect(values).toEqual({ name: 'Renamed' });
      expect(values).not.toHaveProperty('smtpPasswordEncrypted');
      expect(values).not.toHaveProperty('hasSmtpPassword');
      expect(response.has_smtp_password).toBe(true);
    });

    it('should seal a new password when the update gives one', async () => {
      const created = await service.create(smtpDto());
      await service.update(created.id, { smtp_password: 'rotated-password' });
      const { values } = repo.updated[0]!;
      expect(values.hasSmtpPassword).toBe(true);
      expect(values.smtpPasswordEncrypted).not.toContain('rotated-password');
      expect(credentials.open(values.smtpPasswordEncrypted!)).toBe('rotated-password');
      expect(logs.lines.join('\n')).not.toContain('rotated-password');
    });

    it('should check TLS flags against the stored row when only one flag is sent', async () => {
      const created = await service.create(smtpDto({ smtp_use_tls: true, smtp_use_ssl: false }));
      const error = await rejection(service.update(created.id, { smtp_use_ssl: true }));
      expect(error.fields).toHaveProperty('non_field_errors');
      expect(repo.updated).toHaveLength(0);
    });
  });
});
