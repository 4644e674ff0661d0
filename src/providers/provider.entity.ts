import { Column, CreateDateColumn, DeleteDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { HealthStatus, Priority, ProviderType } from './provider.constants.js';

@Entity({ name: 'providers' })
export class ProviderEntity {
  @PrimaryGeneratedColumn('identity', { generatedIdentity: 'BY DEFAULT' })
  id: number;

  @Column({ type: 'varchar', length: 100 })
  name: string;

  @Column({ name: 'provider_type', type: 'varchar', length: 20 })
  providerType: ProviderType;

  @Column({ name: 'smtp_host', type: 'varchar', length: 255, nullable: true })
  smtpHost: string | null;

  @Column({ name: 'smtp_port', type: 'integer', nullable: true })
  smtpPort: number | null;

  @Column({ name: 'smtp_username', type: 'varchar', length: 255, nullable: true })
  smtpUsername: string | null;

  /** Fernet token; never selected unless asked for, so it cannot reach a response by accident. */
  @Column({ name: 'smtp_password_encrypted', type: 'text', nullable: true, select: false })
  smtpPasswordEncrypted?: string | null;

  @Column({ name: 'has_smtp_password', type: 'boolean', default: false })
  hasSmtpPassword: boolean;

  @Column({ name: 'smtp_use_tls', type: 'boolean', default: true })
  smtpUseTls: boolean;

  @Column({ name: 'smtp_use_ssl', type: 'boolean', default: false })
  smtpUseSsl: boolean;

  @Column({ name: 'aws_region', type: 'varchar', length: 32, nullable: true })
  awsRegion: string | null;

  @Column({ name: 'aws_access_key_id', type: 'varchar', length: 128, nullable: true })
  awsAccessKeyId: string | null;

  @Column({ name: 'aws_secret_access_key_encrypted', type: 'text', nullable: true, select: false })
  awsSecretAccessKeyEncrypted?: string | null;

  @Column({ name: 'has_aws_secret_access_key', type: 'boolean', default: false })
  hasAwsSecretAccessKey: boolean;

  /** The SES configuration set messages are sent with (aws_ses only); its event destination reports bounces and complaints. */
  @Column({ name: 'ses_configuration_set', type: 'varchar', length: 64, nullable: true })
  sesConfigurationSet: string | null;

  /** The SNS topic whose notifications the provider takes: the first to arrive, unless set. */
  @Column({ name: 'ses_topic_arn', type: 'varchar', length: 320, nullable: true })
  sesTopicArn: string | null;

  /** Bumped by every change to how we connect, so transports cached by any instance can tell they are stale. */
  @Column({ name: 'credentials_version', type: 'integer', default: 1 })
  credentialsVersion: number;

  @Column({ name: 'from_email', type: 'varchar', length: 254 })
  fromEmail: string;

  @Column({ name: 'from_name', type: 'varchar', length: 255, default: '' })
  fromName: string;

  @Column({ name: 'reply_to', type: 'varchar', length: 254, nullable: true })
  replyTo: string | null;

  @Column({ name: 'daily_limit', type: 'integer', nullable: true })
  dailyLimit: number | null;

  @Column({ name: 'monthly_limit', type: 'integer', nullable: true })
  monthlyLimit: number | null;

  @Column({ name: 'rate_limit_per_minute', type: 'integer', nullable: true })
  rateLimitPerMinute: number | null;

  @Column({ type: 'smallint', default: 1 })
  priority: Priority;

  @Column({ name: 'is_default', type: 'boolean', default: false })
  isDefault: boolean;

  @Column({ name: 'is_active', type: 'boolean', default: true })
  isActive: boolean;

  @Column({ name: 'health_status', type: 'varchar', length: 16, default: 'unknown' })
  healthStatus: HealthStatus;

  @Column({ name: 'last_health_check', type: 'timestamptz', nullable: true })
  lastHealthCheck: Date | null;

  /** Why the last check or send failed, short and free of secrets. */
  @Column({ name: 'last_error', type: 'varchar', length: 300, nullable: true })
  lastError: string | null;

  /** Provider-side send failures in a row (passive detection). */
  @Column({ name: 'consecutive_failures', type: 'integer', default: 0 })
  consecutiveFailures: number;

  @Column({ name: 'unhealthy_since', type: 'timestamptz', nullable: true })
  unhealthySince: Date | null;

  /** What SESv2 GetAccount answered at the last check that reached SES (aws_ses only; null before one did). */
  @Column({ name: 'ses_sending_enabled', type: 'boolean', nullable: true })
  sesSendingEnabled: boolean | null;

  @Column({ name: 'ses_enforcement_status', type: 'varchar', length: 32, nullable: true })
  sesEnforcementStatus: string | null;

  @Column({ name: 'ses_production_access_enabled', type: 'boolean', nullable: true })
  sesProductionAccessEnabled: boolean | null;

  @Column({ name: 'ses_max_24_hour_send', type: 'double precision', nullable: true })
  sesMax24HourSend: number | null;

  @Column({ name: 'ses_max_send_rate', type: 'double precision', nullable: true })
  sesMaxSendRate: number | null;

  @Column({ name: 'ses_sent_last_24_hours', type: 'double precision', nullable: true })
  sesSentLast24Hours: number | null;

  /** The part of SentLast24Hours other senders on the account made, estimated at that check (used by the 24-hour limit). */
  @Column({ name: 'ses_sent_by_others_24h', type: 'double precision', nullable: true })
  sesSentByOthers24h: number | null;

  @Column({ name: 'ses_checked_at', type: 'timestamptz', nullable: true })
  sesCheckedAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  @DeleteDateColumn({ name: 'deleted_at', type: 'timestamptz', nullable: true })
  deletedAt: Date | null;
}
