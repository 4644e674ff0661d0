import Joi from 'joi';

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
  DATA_DIR: Joi.string().default('./data'),
  ADMIN_API_KEY: Joi.string().min(16).empty('').optional(),
  FERNET_KEYS: Joi.string().empty('').optional(),
  LOG_LEVEL: Joi.string().valid('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent').default('info'),
  LOG_FORMAT: Joi.string().valid('json', 'pretty').optional(),
}).unknown(true);

export function validateEnv(raw: Record<string, unknown>): Record<string, unknown> {
  const { error, value } = envSchema.validate(raw, { abortEarly: false, convert: true });
  if (error) {
    const problems = error.details.map((d) => `${d.path.join('.')}: ${d.message.replace(/"/g, '')}`);
    throw new Error(`Invalid configuration: ${problems.join('; ')}`);
  }
  return value as Record<string, unknown>;
}
