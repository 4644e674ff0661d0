import { ApiProperty } from '@nestjs/swagger';
import type { SesAccountState } from '../../provider-types/check-outcome.js';

/** What Amazon SES's GetAccount answered at a check: the account's state and sending quota. */
export class SesAccountDto {
  @ApiProperty({ description: 'SES lets the account send (SendingEnabled); false when SES paused it.', example: true })
  sending_enabled: boolean;
  @ApiProperty({
    description: "SES's EnforcementStatus: HEALTHY, PROBATION or SHUTDOWN (a shut-down account is unhealthy).",
    nullable: true,
    type: String,
    example: 'HEALTHY',
  })
  enforcement_status: string | null;
  @ApiProperty({
    description: 'False while the account is in the SES sandbox (ProductionAccessEnabled).',
    nullable: true,
    type: Boolean,
    example: true,
  })
  production_access_enabled: boolean | null;
  @ApiProperty({
    description: 'Messages the account may send in any 24 hours (Max24HourSend; -1 unlimited); the service keeps under it.',
    nullable: true,
    type: Number,
    example: 50000,
  })
  max_24_hour_send: number | null;
  @ApiProperty({
    description: 'Messages the account may send per second (MaxSendRate); the service keeps under it.',
    nullable: true,
    type: Number,
    example: 14,
  })
  max_send_rate: number | null;
  @ApiProperty({
    description: 'Messages the whole account (any sender) sent in the 24 hours before the check (SentLast24Hours).',
    nullable: true,
    type: Number,
    example: 1200,
  })
  sent_last_24_hours: number | null;
  @ApiProperty({ description: 'When the check that read these values started.', format: 'date-time', example: '2025-01-07T11:00:00Z' })
  checked_at: string;
}

export const SES_ACCOUNT_PROPERTY = {
  description:
    'Amazon SES account state and quota at the last check that reached SES; null for other provider types and before such a check.',
  nullable: true,
  type: SesAccountDto,
} as const;

export function sesAccountDto(state: SesAccountState | null | undefined, checkedAt: Date | null): SesAccountDto | null {
  if (!state || !checkedAt) return null;
  return {
    sending_enabled: state.sendingEnabled,
    enforcement_status: state.enforcementStatus,
    production_access_enabled: state.productionAccessEnabled,
    max_24_hour_send: state.max24HourSend,
    max_send_rate: state.maxSendRate,
    sent_last_24_hours: state.sentLast24Hours,
    checked_at: checkedAt.toISOString(),
  };
}

/** The provider's stored account state, for an aws_ses provider that has had one. */
export function providerSesAccount(p: {
  providerType: string;
  sesSendingEnabled: boolean | null;
  sesEnforcementStatus: string | null;
  sesProductionAccessEnabled: boolean | null;
  sesMax24HourSend: number | null;
  sesMaxSendRate: number | null;
  sesSentLast24Hours: number | null;
  sesCheckedAt: Date | null;
}): SesAccountDto | null {
  if (p.providerType !== 'aws_ses' || p.sesSendingEnabled === null) return null;
  return sesAccountDto(
    {
      sendingEnabled: p.sesSendingEnabled,
      enforcementStatus: p.sesEnforcementStatus,
      productionAccessEnabled: p.sesProductionAccessEnabled,
      max24HourSend: p.sesMax24HourSend,
      maxSendRate: p.sesMaxSendRate,
      sentLast24Hours: p.sesSentLast24Hours,
    },
    p.sesCheckedAt,
  );
}
