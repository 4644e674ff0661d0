import { ApiProperty } from '@nestjs/swagger';
import { IntegerField } from '../../common/validation/drf-fields.js';
import { SES_ACCOUNT_PROPERTY, SesAccountDto } from './ses-account.dto.js';
import { HEALTH_STATUSES, PROVIDER_TYPES, type HealthStatus, type ProviderType } from '../provider.constants.js';

export class ProviderStatisticsQuery {
  @IntegerField({
    min: 1,
    max: 3660,
    api: { description: 'Window for success_rate and average_response_time, in days (default 30).' },
  })
  days?: number;
}

export class FailoverCountDto {
  @ApiProperty({ example: 2 }) to_provider_id: number;
  @ApiProperty({ example: 'Backup relay' }) to_provider_name: string;
  @ApiProperty({ description: 'Messages that failed over from this provider to that one (all time).', example: 3 }) count: number;
}

export class ProviderStatisticsDto {
  @ApiProperty({ example: 1 }) provider_id: number;
  @ApiProperty({ example: 'Main SMTP relay' }) provider_name: string;
  @ApiProperty({ enum: PROVIDER_TYPES, example: 'smtp' }) provider_type: ProviderType;
  @ApiProperty({ example: true }) is_active: boolean;
  @ApiProperty({ enum: HEALTH_STATUSES, example: 'healthy' }) health_status: HealthStatus;
  @ApiProperty({ example: 5 }) emails_sent_today: number;
  @ApiProperty({ example: 150 }) emails_sent_this_month: number;
  @ApiProperty({ nullable: true, type: 'integer', example: 1000 }) daily_limit: number | null;
  @ApiProperty({ nullable: true, type: 'integer', example: 10000 }) monthly_limit: number | null;
  @ApiProperty({ description: 'Percent of daily_limit used today; null when unlimited.', nullable: true, type: Number, example: 0.5 })
  daily_usage_percentage: number | null;
  @ApiProperty({
    description: 'Percent of monthly_limit used this month; null when unlimited.',
    nullable: true,
    type: Number,
    example: 1.5,
  })
  monthly_usage_percentage: number | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', example: '2025-01-07T11:00:00Z' }) last_health_check: string | null;
  @ApiProperty({
    description: 'Percent of attempts the provider accepted in the window; null without attempts.',
    nullable: true,
    type: Number,
    example: 98.5,
  })
  success_rate: number | null;
  @ApiProperty({
    description: 'Mean attempt time in seconds in the window; null without attempts.',
    nullable: true,
    type: Number,
    example: 2.3,
  })
  average_response_time: number | null;
  @ApiProperty({ description: 'Attempts recorded in the window.', example: 152 }) total_attempts: number;
  @ApiProperty({
    description:
      'Attempts in the window whose result was discarded because their claim on the message had been taken over ' +
      '(an instance lost touch with the database for a whole lease); each may have sent a message twice. Normally 0.',
    example: 0,
  })
  stale_results: number;
  @ApiProperty(SES_ACCOUNT_PROPERTY) ses_account: SesAccountDto | null;
  @ApiProperty({ type: [FailoverCountDto], description: 'Where messages went when this provider failed.' }) failovers: FailoverCountDto[];
}
