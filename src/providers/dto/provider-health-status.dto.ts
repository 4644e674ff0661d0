import { ApiProperty } from '@nestjs/swagger';
import { SES_ACCOUNT_PROPERTY, SesAccountDto } from './ses-account.dto.js';
import { HEALTH_STATUSES, PROVIDER_TYPES, type HealthStatus, type ProviderType } from '../provider.constants.js';

export class ProviderHealthStatusDto {
  @ApiProperty({ example: 1 }) provider_id: number;
  @ApiProperty({ example: 'Main SMTP relay' }) provider_name: string;
  @ApiProperty({ enum: PROVIDER_TYPES, example: 'smtp' }) provider_type: ProviderType;
  @ApiProperty({ description: 'health_status is "healthy".', example: true }) is_healthy: boolean;
  @ApiProperty({ enum: HEALTH_STATUSES, example: 'healthy' }) health_status: HealthStatus;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', example: '2025-01-07T11:00:00Z' }) last_health_check: string | null;
  @ApiProperty({ description: 'Why the last check or send failed (never a secret).', nullable: true, type: String, example: null })
  last_error: string | null;
  @ApiProperty({
    description: "Active, not unhealthy, and under its minute, day and month limits (and an SES account's quota) right now.",
    example: true,
  })
  can_send_email: boolean;
  @ApiProperty(SES_ACCOUNT_PROPERTY) ses_account: SesAccountDto | null;
}
