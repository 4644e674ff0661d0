import { ApiProperty } from '@nestjs/swagger';
import { PageQuery } from '../../common/pagination.js';
import { SES_ACCOUNT_PROPERTY, SesAccountDto } from '../../providers/dto/ses-account.dto.js';
import { HEALTH_STATUSES, type HealthStatus } from '../../providers/provider.constants.js';

export class HealthCheckResultDto {
  @ApiProperty({ example: 1 }) provider_id: number;
  @ApiProperty({ example: 'Main SMTP relay' }) provider_name: string;
  @ApiProperty({ example: true }) is_healthy: boolean;
  @ApiProperty({ enum: HEALTH_STATUSES, example: 'healthy' }) health_status: HealthStatus;
  @ApiProperty({ format: 'date-time', example: '2025-01-07T11:00:00Z' }) last_health_check: string;
  @ApiProperty({ description: 'What failed (never a secret); null when healthy.', nullable: true, type: String, example: null })
  error: string | null;
}

export class HealthCheckRecordDto {
  @ApiProperty({ format: 'date-time', example: '2025-01-07T11:00:00Z' }) checked_at: string;
  @ApiProperty({ enum: ['scheduled', 'manual'], example: 'scheduled' }) trigger: 'scheduled' | 'manual';
  @ApiProperty({ example: true }) healthy: boolean;
  @ApiProperty({ description: 'Seconds.', example: 0.214 }) latency: number;
  @ApiProperty({
    description:
      "nodemailer's error code (ECONNECTION, ETIMEDOUT, EAUTH, ETLS, …); for SES the exception name (InvalidClientTokenId, " +
      'TooManyRequestsException, …), the system error (ECONNREFUSED, ETIMEDOUT) or SES_SENDING_DISABLED / SES_SHUTDOWN.',
    nullable: true,
    type: String,
    example: null,
  })
  error_class: string | null;
  @ApiProperty({ nullable: true, type: 'integer', example: null }) smtp_code: number | null;
  @ApiProperty({ nullable: true, type: String, example: null }) smtp_reply: string | null;
  @ApiProperty({
    ...SES_ACCOUNT_PROPERTY,
    description: 'What Amazon SES GetAccount answered at this check; null for other types or when SES did not answer.',
  })
  ses_account: SesAccountDto | null;
}

export class HealthHistoryPageDto {
  @ApiProperty({ example: 1 }) count: number;
  @ApiProperty({ nullable: true, type: String, example: null }) next: string | null;
  @ApiProperty({ nullable: true, type: String, example: null }) previous: string | null;
  @ApiProperty({ type: [HealthCheckRecordDto] }) results: HealthCheckRecordDto[];
}

export class HealthHistoryQuery extends PageQuery {}
