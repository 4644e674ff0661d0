import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import os from 'node:os';
import path from 'node:path';
import type { DatabaseTimeouts } from '../database/data-source-options.js';
import { SNS_HOST_PATTERN } from '../ses-notifications/sns-url.js';
import { parseTrustProxy } from './env.schema.js';
import { parseRetryDelays } from '../webhooks/retry-schedule.js';

export interface HealthConfig {
  enabled: boolean;
  cron: string;
  timeoutMs: number;
  concurrency: number;
  retentionDays: number;
  failureThreshold: number;
  probeCooldownSeconds: number;
  probeInitialSeconds: number;
}

export interface SendingConfig {
  workersEnabled: boolean;
  concurrency: number;
  pollIntervalMs: number;
  leaseSeconds: number;
  maxUncertainAttempts: number;
  maxAgeSeconds: number;
  retryBaseSeconds: number;
  retryMaxSeconds: number;
  waitSeconds: number;
  shutdownGraceSeconds: number;
  maxAttachmentBytes: number;
  messageIdDomain: string;
  smtp: {
    connectionTimeoutMs: number;
    greetingTimeoutMs: number;
    socketTimeoutMs: number;
    maxConnections: number;
    extraCaFile?: string;
    /** How long a host's checked addresses are reused before the next send resolves it again; 0: every send. */
    resolveCacheMs?: number;
  };
}

/** Message retention (issue #12); the days count from when a message became sent or failed. */
export interface RetentionConfig {
  enabled: boolean;
  /** Text, html, custom headers and attachments are dropped after this many days (0: at the next round). */
  bodyDays: number;
  /** The row and its attempts are deleted after this many days; never fewer than bodyDays. */
  rowDays: number;
  batchSize: number;
  intervalSeconds: number;
  /** Webhook events (with their deliveries, once all are over) are deleted after this many days. */
  webhookDays: number;
}

export interface WebhooksConfig {
  enabled: boolean;
  timeoutMs: number;
  retryDelaysSeconds: number[];
  concurrency: number;
  pollIntervalMs: number;
}

/** METRICS_PORT (undefined: no listener without authentication) and the address it binds. */
export interface MetricsConfig {
  port: number | undefined;
  host: string;
}

/** Amazon SNS notifications (issue #14); both settings are for tests only, unset in operation. */
export interface SesNotificationsConfig {
  /** The host (host:port) a signing certificate or SubscribeURL must have; Amazon SNS's own unless a test replaces it. */
  certHostPattern: RegExp;
  /** A PEM file of an extra CA trusted for the HTTPS requests to SNS (a test CA). */
  certCaFile: string | undefined;
}

/** Typed, read-only view of the validated environment; the only reader of configuration. */
@Injectable()
export class AppConfig {
  constructor(private readonly config: ConfigService) {}

  private get<T>(key: string): T {
    return this.config.get<T>(key) as T;
  }

  get nodeEnv(): 'development' | 'production' | 'test' {
    return this.get('NODE_ENV');
  }
  get isProduction(): boolean {
    return this.nodeEnv === 'production';
  }
  get port(): number {
    return this.get('PORT');
  }
  get host(): string {
    return this.get('HOST');
  }
  get databaseUrl(): string | undefined {
    return this.get('DATABASE_URL');
  }
  get databasePoolSize(): number {
    return this.get('DATABASE_POOL_SIZE');
  }
  get databaseTimeouts(): DatabaseTimeouts {
    return {
      connectMs: this.get('DATABASE_CONNECT_TIMEOUT_MS'),
      statementMs: this.get('DATABASE_STATEMENT_TIMEOUT_MS'),
      queryMs: this.get('DATABASE_QUERY_TIMEOUT_MS'),
    };
  }
  get dataDir(): string {
    return path.resolve(this.get<string>('DATA_DIR'));
  }
  get adminApiKey(): string | undefined {
    return this.get('ADMIN_API_KEY');
  }
  get fernetKeys(): string | undefined {
    return this.get('FERNET_KEYS');
  }
  get logLevel(): string {
    return this.get('LOG_LEVEL');
  }
  /** An error that keeps repeating is logged once per this interval, with its count. */
  get logRepeatIntervalMs(): number {
    return this.get<number>('LOG_REPEAT_INTERVAL_SECONDS') * 1000;
  }
  /** Everything the sending module reads, in one typed object. */
  get sending(): SendingConfig {
    return {
      workersEnabled: this.get('SEND_WORKERS_ENABLED'),
      concurrency: this.get('SEND_WORKER_CONCURRENCY'),
      pollIntervalMs: this.get('SEND_POLL_INTERVAL_MS'),
      leaseSeconds: this.get('SEND_LEASE_SECONDS'),
      maxUncertainAttempts: this.get('SEND_MAX_UNCERTAIN_ATTEMPTS'),
      maxAgeSeconds: this.get('SEND_MAX_AGE_SECONDS'),
      retryBaseSeconds: this.get('SEND_RETRY_BASE_SECONDS'),
      retryMaxSeconds: this.get('SEND_RETRY_MAX_SECONDS'),
      waitSeconds: this.get('SEND_WAIT_SECONDS'),
      shutdownGraceSeconds: this.get('SEND_SHUTDOWN_GRACE_SECONDS'),
      maxAttachmentBytes: this.get('SEND_MAX_ATTACHMENT_BYTES'),
      messageIdDomain: this.get<string | undefined>('MESSAGE_ID_DOMAIN') ?? os.hostname(),
      smtp: {
        connectionTimeoutMs: this.get('SMTP_CONNECTION_TIMEOUT_MS'),
        greetingTimeoutMs: this.get('SMTP_GREETING_TIMEOUT_MS'),
        socketTimeoutMs: this.get('SMTP_SOCKET_TIMEOUT_MS'),
        maxConnections: this.get('SMTP_POOL_MAX_CONNECTIONS'),
        resolveCacheMs: this.get<number>('SMTP_RESOLVE_CACHE_SECONDS') * 1000,
        extraCaFile: this.get<string | undefined>('SMTP_EXTRA_CA_FILE'),
      },
    };
  }

  get health(): HealthConfig {
    return {
      enabled: this.get('HEALTH_CHECKS_ENABLED'),
      cron: this.get('HEALTH_CHECK_CRON'),
      timeoutMs: this.get('HEALTH_CHECK_TIMEOUT_MS'),
      concurrency: this.get('HEALTH_CHECK_CONCURRENCY'),
      retentionDays: this.get('HEALTH_CHECK_RETENTION_DAYS'),
      failureThreshold: this.get('HEALTH_FAILURE_THRESHOLD'),
      probeCooldownSeconds: this.get('HEALTH_PROBE_COOLDOWN_SECONDS'),
      probeInitialSeconds: this.get('HEALTH_PROBE_INITIAL_SECONDS'),
    };
  }

  get retention(): RetentionConfig {
    return {
      enabled: this.get('MESSAGE_RETENTION_ENABLED'),
      bodyDays: this.get('MESSAGE_BODY_RETENTION_DAYS'),
      rowDays: this.get('MESSAGE_RETENTION_DAYS'),
      batchSize: this.get('MESSAGE_RETENTION_BATCH_SIZE'),
      intervalSeconds: this.get('MESSAGE_RETENTION_INTERVAL_SECONDS'),
      webhookDays: this.get('WEBHOOK_RETENTION_DAYS'),
    };
  }

  get webhooks(): WebhooksConfig {
    return {
      enabled: this.get('WEBHOOKS_ENABLED'),
      timeoutMs: this.get<number>('WEBHOOK_TIMEOUT_SECONDS') * 1000,
      retryDelaysSeconds: parseRetryDelays(this.get('WEBHOOK_RETRY_DELAYS')),
      concurrency: this.get('WEBHOOK_CONCURRENCY'),
      pollIntervalMs: this.get('WEBHOOK_POLL_INTERVAL_MS'),
    };
  }

  get metrics(): MetricsConfig {
    return { port: this.get<number | undefined>('METRICS_PORT'), host: this.get('METRICS_HOST') };
  }

  get sesNotifications(): SesNotificationsConfig {
    const pattern = this.get<string | undefined>('SNS_CERT_HOST_PATTERN');
    return { certHostPattern: pattern ? new RegExp(pattern) : SNS_HOST_PATTERN, certCaFile: this.get('SNS_CERT_CA_FILE') };
  }

  /** The JSON body limit of POST /send/: the attachments (base64 grows them by a third) plus room for the rest. */
  get sendBodyLimitBytes(): number {
    return Math.ceil((this.get<number>('SEND_MAX_ATTACHMENT_BYTES') * 4) / 3) + 2 * 1024 * 1024;
  }

  get logFormat(): 'json' | 'pretty' {
    return (
      this.get<'json' | 'pretty' | undefined>('LOG_FORMAT') ?? (this.nodeEnv === 'development' && process.stdout.isTTY ? 'pretty' : 'json')
    );
  }

  /** Whether an SMTP provider may send its password without TLS (refused at save and at connect otherwise). */
  get smtpAllowPlaintextAuth(): boolean {
    return this.get('SMTP_ALLOW_PLAINTEXT_AUTH');
  }
  /** Browser origins allowed by CORS, normalised by env.schema; empty means CORS stays off. */
  get corsOrigins(): string[] {
    return (this.get<string | undefined>('CORS_ORIGINS') ?? '').split(',').filter(Boolean);
  }
  /** The JSON body limit of every route that carries no attachments. */
  get bodyLimitBytes(): number {
    return this.get('BODY_LIMIT_BYTES');
  }
  /** OUTBOUND_ALLOW as set (validated at start-up); parsed by the outbound policy. */
  get outboundAllow(): string {
    return this.get<string | undefined>('OUTBOUND_ALLOW') ?? '';
  }
  /** Failed authentications one client address may make per minute before it gets 429; 0: no limit. */
  get authFailuresPerMinute(): number {
    return this.get('AUTH_FAILURES_PER_MINUTE');
  }
  /** How long a successful API key lookup is trusted; 0: not cached. */
  get apiKeyCacheMs(): number {
    return this.get<number>('API_KEY_CACHE_SECONDS') * 1000;
  }
  /** Express's `trust proxy`: the proxies whose X-Forwarded-For names the client, or false for none. */
  get trustProxy(): string[] | false {
    const value = this.get<string | undefined>('TRUST_PROXY');
    return value ? (parseTrustProxy(value) ?? false) : false;
  }
}
