import { ApiProperty } from '@nestjs/swagger';
import { SES_ACCOUNT_PROPERTY, SesAccountDto } from './ses-account.dto.js';
import { HEALTH_STATUSES, PRIORITIES, PROVIDER_TYPES, type HealthStatus, type Priority, type ProviderType } from '../provider.constants.js';

/** A provider as every route returns it. Secrets never appear: only whether one is stored. */
export class ProviderResponseDto {
  @ApiProperty({ example: 1 }) id: number;
  @ApiProperty({ example: 'Main SMTP relay' }) name: string;
  @ApiProperty({ enum: PROVIDER_TYPES, example: 'smtp' }) provider_type: ProviderType;
  @ApiProperty({ example: 'Custom SMTP' }) provider_type_display: string;
  @ApiProperty({ nullable: true, type: String, example: 'smtp.example.com' }) smtp_host: string | null;
  @ApiProperty({ nullable: true, type: 'integer', example: 587 }) smtp_port: number | null;
  @ApiProperty({ nullable: true, type: String, example: 'mailer@example.com' }) smtp_username: string | null;
  @ApiProperty({ description: 'Whether an SMTP password is stored (it is never returned).', example: true }) has_smtp_password: boolean;
  @ApiProperty({ example: true }) smtp_use_tls: boolean;
  @ApiProperty({ example: false }) smtp_use_ssl: boolean;
  @ApiProperty({ nullable: true, type: String, example: null }) aws_region: string | null;
  @ApiProperty({ nullable: true, type: String, example: null }) aws_access_key_id: string | null;
  @ApiProperty({ description: 'Whether an AWS secret access key is stored (it is never returned).', example: false })
  has_aws_secret_access_key: boolean;
  @ApiProperty({ description: 'The SES configuration set messages are sent with (aws_ses).', nullable: true, type: String, example: null })
  ses_configuration_set: string | null;
  @ApiProperty({
    description: 'The SNS topic whose notifications the provider takes (aws_ses); the first to arrive unless set.',
    nullable: true,
    type: String,
    example: null,
  })
  ses_topic_arn: string | null;
  @ApiProperty({ example: 'noreply@example.com' }) from_email: string;
  @ApiProperty({ example: 'Example Inc.' }) from_name: string;
  @ApiProperty({ nullable: true, type: String, example: 'support@example.com' }) reply_to: string | null;
  @ApiProperty({ nullable: true, type: 'integer', example: 1000 }) daily_limit: number | null;
  @ApiProperty({ nullable: true, type: 'integer', example: 10000 }) monthly_limit: number | null;
  @ApiProperty({ nullable: true, type: 'integer', example: 10 }) rate_limit_per_minute: number | null;
  @ApiProperty({ enum: PRIORITIES, type: 'integer', example: 1 }) priority: Priority;
  @ApiProperty({ example: 'Primary' }) priority_display: string;
  @ApiProperty({ example: false }) is_default: boolean;
  @ApiProperty({ example: true }) is_active: boolean;
  @ApiProperty({ enum: HEALTH_STATUSES, example: 'unknown' }) health_status: HealthStatus;
  @ApiProperty({ example: 'Unknown' }) health_status_display: string;
  @ApiProperty({ description: 'Messages the provider accepted in the current UTC day, test sends included.', example: 0 })
  emails_sent_today: number;
  @ApiProperty({ description: 'Messages the provider accepted in the current UTC month, test sends included.', example: 0 })
  emails_sent_this_month: number;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', example: null }) last_health_check: string | null;
  @ApiProperty(SES_ACCOUNT_PROPERTY) ses_account: SesAccountDto | null;
  @ApiProperty({ format: 'date-time', example: '2025-01-07T10:30:00Z' }) created_at: string;
  @ApiProperty({ format: 'date-time', example: '2025-01-07T10:30:00Z' }) updated_at: string;
}

export class ProviderActionResponseDto {
  @ApiProperty({ example: 'Provider activated successfully' })
  message: string;
}
