import Joi from 'joi';
import { parseOutboundAllow } from '../outbound/outbound-policy.js';
import { DEFAULT_RETRY_DELAYS_SECONDS, parseRetryDelays } from '../webhooks/retry-schedule.js';

/** Every environment variable the service reads, validated once at start-up. */
export const envSchema = Joi.object({
  NODE_ENV: Joi.string().valid('development', 'production', 'test').default('development'),
  PORT: Joi.number().integer().min(0).max(65535).default(8000),
  HOST: Joi.string().default('0.0.0.0'),
  DATABASE_URL: Joi.string()
    .uri({ scheme: ['postgres', 'postgresql'] })
    .empty('')
    .optional(),
  DATABASE_POOL_SIZE: Joi.number().integer().min(1).max(200).default(10),
  DATABASE_CONNECT_TIMEOUT_MS: Joi.number().integer().min(100).max(600_000).default(5_000),
  DATABASE_STATEMENT_TIMEOUT_MS: Joi.number().integer().min(100).max(3_600_000).default(10_000),
  DATABASE_QUERY_TIMEOUT_MS: Joi.number().integer().min(100).max(3_600_000).default(15_000),
  DATA_DIR: Joi.string().default('./data'),
  ADMIN_API_KEY: Joi.string().min(16).empty('').optional(),
  FERNET_KEYS: Joi.string().empty('').optional(),
  LOG_LEVEL: Joi.string().valid('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent').default('info'),
  LOG_FORMAT: Joi.string().valid('json', 'pretty').optional(),
  LOG_REPEAT_INTERVAL_SECONDS: Joi.number().min(0.1).max(86_400).default(60),

  // Sending
  SEND_WORKERS_ENABLED: Joi.boolean().default(true),
  SEND_WORKER_CONCURRENCY: Joi.number().integer().min(1).max(1024).default(64),
  SEND_POLL_INTERVAL_MS: Joi.number().integer().min(10).max(60_000).default(500),
  // Renewed every third of it while an attempt is in progress; what a crashed worker's messages wait before another claims them.
  SEND_LEASE_SECONDS: Joi.number().integer().min(5).max(3600).default(60),
  // Hand-overs of one message that may end with an unknown outcome (connection lost after DATA) before it fails rather than go out again.
  SEND_MAX_UNCERTAIN_ATTEMPTS: Joi.number().integer().min(1).max(100).default(3),
  SEND_MAX_AGE_SECONDS: Joi.number().integer().min(1).default(86_400),
  SEND_RETRY_BASE_SECONDS: Joi.number().min(0.01).max(3600).default(30),
  SEND_RETRY_MAX_SECONDS: Joi.number().min(0.01).max(86_400).default(3600),
  SEND_WAIT_SECONDS: Joi.number().min(0).max(300).default(30),
  SEND_SHUTDOWN_GRACE_SECONDS: Joi.number().min(0).max(600).default(20),
  SEND_MAX_ATTACHMENT_BYTES: Joi.number()
    .integer()
    .min(0)
    .default(10 * 1024 * 1024),
  MESSAGE_ID_DOMAIN: Joi.string().hostname().optional(),
  SMTP_CONNECTION_TIMEOUT_MS: Joi.number().integer().min(100).default(10_000),
  SMTP_GREETING_TIMEOUT_MS: Joi.number().integer().min(100).default(10_000),
  SMTP_SOCKET_TIMEOUT_MS: Joi.number().integer().min(100).default(60_000),
  // A PEM file of extra CAs to trust for providers' TLS certificates (a private relay's CA), beside the system's.
  SMTP_EXTRA_CA_FILE: Joi.string().optional(),
  SMTP_POOL_MAX_CONNECTIONS: Joi.number().integer().min(1).max(100).default(5),
  SMTP_RESOLVE_CACHE_SECONDS: Joi.number().min(0).max(3600).default(5),

  // Health
  HEALTH_CHECKS_ENABLED: Joi.boolean().default(true),
  HEALTH_CHECK_CRON: Joi.string().default('*/5 * * * *'),
  HEALTH_CHECK_TIMEOUT_MS: Joi.number().integer().min(100).max(120_000).default(10_000),
  HEALTH_CHECK_CONCURRENCY: Joi.number().integer().min(1).max(64).default(4),
  HEALTH_CHECK_RETENTION_DAYS: Joi.number().integer().min(1).default(30),
  HEALTH_FAILURE_THRESHOLD: Joi.number().integer().min(1).max(1000).default(3),
  HEALTH_PROBE_COOLDOWN_SECONDS: Joi.number().integer().min(0).default(300),
  // An unhealthy provider is checked again after this long, then after twice as long, up to HEALTH_PROBE_COOLDOWN_SECONDS.
  HEALTH_PROBE_INITIAL_SECONDS: Joi.number().min(0.1).max(3600).default(5),

  // Message retention (issue #12): what a message keeps, counted from when it became sent or failed.
  // false: this instance runs no retention round (another instance on the same database still does).
  MESSAGE_RETENTION_ENABLED: Joi.boolean().default(true),
  // Days before its text, html, custom headers and attachments are dropped; 0: at the first round after.
  MESSAGE_BODY_RETENTION_DAYS: Joi.number().integer().min(0).max(36_500).default(7),
  // Days before the row and its attempts are deleted (its Idempotency-Key can then be used again); at least the body's.
  MESSAGE_RETENTION_DAYS: Joi.number().integer().min(1).max(36_500).default(90),
  // Rows one statement (one short transaction) drops or deletes.
  MESSAGE_RETENTION_BATCH_SIZE: Joi.number().integer().min(1).max(10_000).default(1000),
  // About how often a round starts, across all instances sharing the database.
  MESSAGE_RETENTION_INTERVAL_SECONDS: Joi.number().integer().min(1).max(86_400).default(300),

  // Webhooks (issue #14)
  // false: this instance delivers no webhook events (another instance on the same database still does).
  WEBHOOKS_ENABLED: Joi.boolean().default(true),
  // A delivery attempt that has no answer (status line and body) within this is a failed attempt.
  WEBHOOK_TIMEOUT_SECONDS: Joi.number().min(0.1).max(300).default(15),
  // Seconds to wait after each failed attempt (comma-separated); when they are spent the delivery is given up.
  WEBHOOK_RETRY_DELAYS: Joi.string()
    .default(DEFAULT_RETRY_DELAYS_SECONDS.join(','))
    .custom((value: string) => {
      parseRetryDelays(value);
      return value;
    }),
  // Deliveries in flight at once in this instance.
  WEBHOOK_CONCURRENCY: Joi.number().integer().min(1).max(256).default(16),
  // Days a webhook event is kept with its deliveries once they are all over (delivered or given up); by the retention round.
  WEBHOOK_RETENTION_DAYS: Joi.number().integer().min(1).max(36_500).default(30),
  // How often an idle dispatcher looks for due deliveries.
  WEBHOOK_POLL_INTERVAL_MS: Joi.number().integer().min(10).max(60_000).default(1000),

  // Issue #11, no plaintext AUTH: lets a provider with a password connect without TLS (a trusted internal network only).
  SMTP_ALLOW_PLAINTEXT_AUTH: Joi.boolean().default(false),
  // HTTP (issue #11, browser-safe HTTP)
  // Web front ends allowed to call the API from a browser: comma-separated origins (scheme://host[:port]); none by default.
  CORS_ORIGINS: Joi.string().allow('').default('').custom(corsOriginList, 'a list of origins'),
  // The JSON body limit of every route but POST /send/, whose limit follows SEND_MAX_ATTACHMENT_BYTES.
  BODY_LIMIT_BYTES: Joi.number()
    .integer()
    .min(1024)
    .max(100 * 1024 * 1024)
    .default(100 * 1024),
  // Outbound host policy (SSRF): private, loopback and other special addresses the operator allows for providers' hosts.
  OUTBOUND_ALLOW: Joi.string()
    .allow('')
    .default('')
    .custom((value: string) => {
      parseOutboundAllow(value);
      return value;
    }),
  // Authentication (issue #11 part 2): failed authentications per client address per minute before 429 (0 turns it off).
  AUTH_FAILURES_PER_MINUTE: Joi.number().integer().min(0).max(100_000).default(20),
  // Issue #12: how long a successful API key lookup is trusted (0: every request reads the key); a revocation on another instance takes effect within it.
  API_KEY_CACHE_SECONDS: Joi.number().min(0).max(300).default(5),
  // Issue #13, metrics: GET /metrics also served WITHOUT authentication on this port (0: any free one); unset: not served.
  METRICS_PORT: Joi.number().integer().min(0).max(65535).optional(),
  // Where METRICS_PORT listens; loopback by default, since anyone who reaches it reads the metrics.
  METRICS_HOST: Joi.string().hostname().default('127.0.0.1'),
  // Issue #14, SES notifications through SNS. TESTS ONLY: a regular expression the signing certificate's and SubscribeURL's
  // host (host:port) must match instead of Amazon SNS's own (sns.<region>.amazonaws.com); refused when NODE_ENV=production.
  SNS_CERT_HOST_PATTERN: Joi.string()
    .empty('')
    .custom((value: string) => {
      new RegExp(value);
      return value;
    })
    .optional(),
  // TESTS ONLY: a PEM file of a CA trusted, beside the system's, for the HTTPS requests to SNS (a test's own certificate server).
  SNS_CERT_CA_FILE: Joi.string().empty('').optional(),
  // Proxies whose X-Forwarded-For is believed: addresses, CIDR ranges, or loopback / linklocal / uniquelocal.
  TRUST_PROXY: Joi.string()
    .empty('')
    .custom((value: string, helpers) => (parseTrustProxy(value) ? value : helpers.error('any.invalid')))
    .messages({
      'any.invalid': '{{#label}} must be a comma-separated list of IP addresses, CIDR ranges, loopback, linklocal or uniquelocal',
    })
    .optional(),
}).unknown(true);

/** Each entry must be an origin as browsers send it; entries are normalised (lower-case host, default port dropped). */
function corsOriginList(value: string): string {
  const origins = value
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean)
    .map((entry) => {
      let url: URL | undefined;
      try {
        url = new URL(entry);
      } catch {
        url = undefined;
      }
      const bare =
        url && /^https?:$/.test(url.protocol) && !url.username && !url.password && url.pathname === '/' && !url.search && !url.hash;
      if (!url || !bare) throw new Error(`"${entry}" is not an origin such as https://app.example.com (scheme, host and port only)`);
      return url.origin;
    });
  return origins.join(',');
}

const PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'];
const PROXY_ADDRESS = Joi.string().ip({ cidr: 'optional' });

/**
 * TRUST_PROXY as Express's `trust proxy` list, or null when an entry is neither an address, a CIDR
 * range nor one of proxy-addr's names. Never `true` or a hop count: those believe whatever
 * X-Forwarded-For a client sends.
 */
export function parseTrustProxy(value: string): string[] | null {
  const entries = value.split(',').map((e) => e.trim());
  const valid = (e: string) => PROXY_NAMES.includes(e) || !PROXY_ADDRESS.validate(e).error;
  return entries.length > 0 && entries.every(valid) ? entries : null;
}

/** Production's ADMIN_API_KEY: long, and not a run of a few characters (`aaaa…`, `abab…`). */
export const ADMIN_KEY_MIN_LENGTH = 32;
export const ADMIN_KEY_MIN_DISTINCT = 8;

function weakAdminKey(key: string): boolean {
  return key.length < ADMIN_KEY_MIN_LENGTH || new Set(key).size < ADMIN_KEY_MIN_DISTINCT;
}

export function validateEnv(raw: Record<string, unknown>): Record<string, unknown> {
  const { error, value } = envSchema.validate(raw, { abortEarly: false, convert: true });
  if (error) {
    const problems = error.details.map((d) => `${d.path.join('.')}: ${d.message.replace(/"/g, '')}`);
    throw new Error(`Invalid configuration: ${problems.join('; ')}`);
  }
  // The server should cancel a slow statement (and keep the connection) before we give up on it.
  if (Number(value.DATABASE_QUERY_TIMEOUT_MS) < Number(value.DATABASE_STATEMENT_TIMEOUT_MS))
    throw new Error('Invalid configuration: DATABASE_QUERY_TIMEOUT_MS must be at least DATABASE_STATEMENT_TIMEOUT_MS');
  // A body kept longer than its row would be deleted with the row anyway: almost certainly a mix-up.
  if (Number(value.MESSAGE_BODY_RETENTION_DAYS) > Number(value.MESSAGE_RETENTION_DAYS))
    throw new Error('Invalid configuration: MESSAGE_BODY_RETENTION_DAYS must be at most MESSAGE_RETENTION_DAYS');
  // The unauthenticated metrics listener cannot share the API's port (it would fail at start with EADDRINUSE).
  if (value.METRICS_PORT !== undefined && Number(value.METRICS_PORT) !== 0 && Number(value.METRICS_PORT) === Number(value.PORT))
    throw new Error('Invalid configuration: METRICS_PORT must differ from PORT');
  // Test settings that would let anyone sign SNS messages the service believes.
  if (value.NODE_ENV === 'production' && (value.SNS_CERT_HOST_PATTERN !== undefined || value.SNS_CERT_CA_FILE !== undefined))
    throw new Error(
      'Invalid configuration: SNS_CERT_HOST_PATTERN and SNS_CERT_CA_FILE are for tests only and refused when NODE_ENV=production',
    );
  // A full-access key that can be guessed; the message never quotes it.
  if (value.NODE_ENV === 'production' && typeof value.ADMIN_API_KEY === 'string' && weakAdminKey(value.ADMIN_API_KEY))
    throw new Error(
      `Invalid configuration: ADMIN_API_KEY must be at least ${ADMIN_KEY_MIN_LENGTH} characters with at least ` +
        `${ADMIN_KEY_MIN_DISTINCT} different ones when NODE_ENV=production (for example: openssl rand -base64 32)`,
    );
  return value as Record<string, unknown>;
}
