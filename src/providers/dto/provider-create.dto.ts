import { BooleanField, CharField, ChoiceField, EmailField, HostField, IntegerField } from '../../common/validation/drf-fields.js';
import { AWS_REGION_MESSAGE, isAwsRegion } from '../../provider-types/aws-ses/aws-region.js';
import { PRIORITIES, PROVIDER_TYPES, type Priority, type ProviderType } from '../provider.constants.js';

const LIMIT_MAX = 2_147_483_647;

/** SES's own rule for configuration set names. */
const SES_CONFIGURATION_SET = /^[A-Za-z0-9_-]{1,64}$/;
const SNS_TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;
const SNS_TOPIC_ARN_MESSAGE = 'Enter an SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:ses-feedback.';
const SES_CONFIGURATION_SET_MESSAGE = 'Enter a configuration set name: 1 to 64 letters, digits, "_" or "-".';

export class ProviderCreateDto {
  @CharField({
    required: true,
    maxLength: 100,
    singleLine: true,
    api: { description: 'Unique among live providers.', example: 'Main SMTP relay' },
  })
  name: string;

  @ChoiceField(PROVIDER_TYPES, { required: true, api: { description: '`smtp` (Custom SMTP) or `aws_ses` (Amazon SES).', example: 'smtp' } })
  provider_type: ProviderType;

  @HostField({
    maxLength: 255,
    nullable: true,
    api: { description: 'SMTP server host name or IP. Required for `smtp`.', example: 'smtp.example.com' },
  })
  smtp_host?: string | null;

  @IntegerField({
    min: 1,
    max: 65535,
    nullable: true,
    api: { description: 'SMTP port (587 STARTTLS, 465 implicit TLS). Default 587 for `smtp`.', example: 587 },
  })
  smtp_port?: number | null;

  @CharField({
    maxLength: 255,
    allowBlank: true,
    nullable: true,
    singleLine: true,
    api: { description: 'SMTP AUTH user name; blank for no AUTH.', example: 'mailer@example.com' },
  })
  smtp_username?: string | null;

  @CharField({
    maxLength: 1024,
    allowBlank: true,
    nullable: true,
    api: {
      description:
        'Write-only. Stored Fernet-encrypted, never returned (see `has_smtp_password`). On update, blank or null keeps the stored password.',
      example: 'your-app-password',
      writeOnly: true,
    },
  })
  smtp_password?: string | null;

  @BooleanField({ api: { description: 'Use STARTTLS (typically port 587). Default true.', example: true } })
  smtp_use_tls?: boolean;

  @BooleanField({
    api: { description: 'Use implicit TLS (typically port 465). Default false. Not together with `smtp_use_tls`.', example: false },
  })
  smtp_use_ssl?: boolean;

  @CharField({
    maxLength: 32,
    nullable: true,
    singleLine: true,
    // It names the host the service connects to (email.REGION.amazonaws.com): a region's shape only.
    check: (v) => (isAwsRegion(v) ? null : AWS_REGION_MESSAGE),
    api: { description: 'AWS region of the SES endpoint, such as `eu-west-1`. Required for `aws_ses`.', example: 'eu-west-1' },
  })
  aws_region?: string | null;

  @CharField({
    maxLength: 128,
    nullable: true,
    singleLine: true,
    api: { description: 'AWS access key id for SES. Required for `aws_ses`.', example: 'AKIAIOSFODNN7EXAMPLE' },
  })
  aws_access_key_id?: string | null;

  @CharField({
    maxLength: 1024,
    allowBlank: true,
    nullable: true,
    api: {
      description: 'Write-only AWS secret access key, stored Fernet-encrypted, never returned. On update, blank or null keeps it.',
      example: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      writeOnly: true,
    },
  })
  aws_secret_access_key?: string | null;

  @CharField({
    maxLength: 64,
    allowBlank: true,
    nullable: true,
    singleLine: true,
    check: (v) => (SES_CONFIGURATION_SET.test(v) ? null : SES_CONFIGURATION_SET_MESSAGE),
    api: {
      description:
        'Amazon SES configuration set every message of this provider is sent with (`aws_ses` only); its event destination ' +
        'reports bounces and complaints to `/providers/{id}/ses_notifications/`. Blank or null for none.',
      example: 'transactional-events',
    },
  })
  ses_configuration_set?: string | null;

  @CharField({
    maxLength: 320,
    allowBlank: true,
    nullable: true,
    singleLine: true,
    check: (v) => (SNS_TOPIC_ARN.test(v) ? null : SNS_TOPIC_ARN_MESSAGE),
    api: {
      description:
        'The SNS topic whose notifications `/providers/{id}/ses_notifications/` takes (`aws_ses` only). Left unset, the first ' +
        'topic whose signed message arrives is kept; messages from any other are refused. Blank or null: take the next first one.',
      example: 'arn:aws:sns:eu-west-1:123456789012:ses-feedback',
    },
  })
  ses_topic_arn?: string | null;

  @EmailField({
    required: true,
    api: { description: 'Sender address used when a message does not name one.', example: 'noreply@example.com' },
  })
  from_email: string;

  @CharField({
    maxLength: 255,
    allowBlank: true,
    singleLine: true,
    api: { description: 'Sender display name.', example: 'Example Inc.' },
  })
  from_name?: string;

  @EmailField({
    allowBlank: true,
    nullable: true,
    api: { description: 'Reply-To address; blank or null for none.', example: 'support@example.com' },
  })
  reply_to?: string | null;

  @IntegerField({
    min: 0,
    max: LIMIT_MAX,
    nullable: true,
    api: { description: 'Messages per UTC day; null is unlimited, 0 sends nothing.', example: 1000 },
  })
  daily_limit?: number | null;

  @IntegerField({
    min: 0,
    max: LIMIT_MAX,
    nullable: true,
    api: { description: 'Messages per UTC month; null is unlimited, 0 sends nothing.', example: 10000 },
  })
  monthly_limit?: number | null;

  @IntegerField({
    min: 0,
    max: LIMIT_MAX,
    nullable: true,
    api: { description: 'Messages in any 60-second span; null is unlimited, 0 sends nothing.', example: 10 },
  })
  rate_limit_per_minute?: number | null;

  @ChoiceField(PRIORITIES, { api: { description: '1 Primary, 2 Secondary, 3 Backup. Default 1.', example: 1 } })
  priority?: Priority;

  @BooleanField({ api: { description: 'Default true. Inactive providers are never used to send.', example: true } })
  is_active?: boolean;

  @BooleanField({ api: { description: 'At most one provider is the default: setting it here clears it on the others.', example: false } })
  is_default?: boolean;
}

/**
 * Named request examples for Swagger UI, one per type and each valid for it (Swagger UI fills in
 * the first). Addresses and hosts are RFC 2606 ones; the AWS keys are AWS's documented examples.
 */
export const PROVIDER_CREATE_EXAMPLES = {
  smtp: {
    summary: 'Custom SMTP (STARTTLS on 587)',
    value: {
      name: 'Main SMTP relay',
      provider_type: 'smtp',
      smtp_host: 'smtp.example.com',
      smtp_port: 587,
      smtp_username: 'mailer@example.com',
      smtp_password: 'your-app-password',
      smtp_use_tls: true,
      smtp_use_ssl: false,
      from_email: 'noreply@example.com',
      from_name: 'Example Inc.',
      reply_to: 'support@example.com',
      daily_limit: 1000,
      priority: 1,
    },
  },
  aws_ses: {
    summary: 'Amazon SES',
    value: {
      name: 'Amazon SES eu-west-1',
      provider_type: 'aws_ses',
      aws_region: 'eu-west-1',
      aws_access_key_id: 'AKIAIOSFODNN7EXAMPLE',
      aws_secret_access_key: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      from_email: 'noreply@example.com',
      from_name: 'Example Inc.',
      priority: 2,
    },
  },
};
