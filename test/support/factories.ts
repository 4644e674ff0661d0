import { randomBytes } from 'node:crypto';

let counter = 0;

/** A valid create body for an SMTP provider; every call gets a unique name. */
export function smtpProviderBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  return {
    name: `SMTP ${counter} ${randomBytes(3).toString('hex')}`,
    provider_type: 'smtp',
    smtp_host: 'smtp.example.com',
    smtp_port: 587,
    smtp_username: 'sender@example.com',
    smtp_password: `pw-${randomBytes(8).toString('hex')}`,
    smtp_use_tls: true,
    smtp_use_ssl: false,
    from_email: 'sender@example.com',
    from_name: 'Example Co',
    reply_to: 'noreply@example.com',
    daily_limit: 1000,
    monthly_limit: 10000,
    rate_limit_per_minute: 10,
    priority: 1,
    is_active: true,
    is_default: false,
    ...overrides,
  };
}

/** A valid create body for an Amazon SES provider (AWS's documentation example keys); every call gets a unique name. */
export function sesProviderBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  return {
    name: `SES ${counter} ${randomBytes(3).toString('hex')}`,
    provider_type: 'aws_ses',
    aws_region: 'eu-west-1',
    aws_access_key_id: 'AKIAIOSFODNN7EXAMPLE',
    aws_secret_access_key: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    from_email: 'sender@example.com',
    from_name: 'Example Co',
    reply_to: 'noreply@example.com',
    daily_limit: null,
    monthly_limit: null,
    rate_limit_per_minute: null,
    priority: 1,
    is_active: true,
    is_default: false,
    ...overrides,
  };
}
