import { ApiProperty } from '@nestjs/swagger';
import type { SnsOutcome } from '../ses-notifications.service.js';

export class SesNotificationResultDto {
  @ApiProperty({
    description:
      'What became of the SNS message: `confirmed` (the subscription), `recorded` (a bounce, complaint or delivery), ' +
      '`duplicate` (recorded before), `unknown_message` (no message of this provider has that SES MessageId), ' +
      '`ignored` (another kind of notification).',
    enum: ['confirmed', 'recorded', 'duplicate', 'unknown_message', 'ignored'],
    example: 'recorded',
  })
  result: SnsOutcome;
}
