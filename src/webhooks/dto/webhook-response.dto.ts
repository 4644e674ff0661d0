import { ApiProperty } from '@nestjs/swagger';

export class DeliveryCountsDto {
  @ApiProperty({ description: 'Waiting for their next attempt.', example: 0 }) pending: number;
  @ApiProperty({ description: 'An attempt in flight.', example: 0 }) delivering: number;
  @ApiProperty({ description: 'Answered with a 2xx.', example: 12 }) delivered: number;
  @ApiProperty({ description: 'Given up: the retry schedule was spent, or the receiver answered 410 Gone.', example: 0 }) failed: number;
}

export class WebhookResponseDto {
  @ApiProperty({ example: 1 }) id: number;
  @ApiProperty({ example: 'https://hooks.example.com/email-events' }) url: string;
  @ApiProperty({ example: 'CRM delivery status' }) description: string;
  @ApiProperty({ type: [String], example: ['email.sent', 'email.failed'] }) events: string[];
  @ApiProperty({ example: true }) is_active: boolean;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', example: null, description: 'When a 410 Gone turned it off.' })
  disabled_at: string | null;
  @ApiProperty({ nullable: true, type: String, example: null, description: 'Why it was turned off.' }) disabled_reason: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    format: 'date-time',
    example: null,
    description: 'After a rotation: until when the previous secret still signs beside the new one.',
  })
  previous_secret_expires_at: string | null;
  @ApiProperty({ type: DeliveryCountsDto, description: 'Its deliveries by status.' }) deliveries: DeliveryCountsDto;
  @ApiProperty({ format: 'date-time', example: '2025-01-07T10:30:00Z' }) created_at: string;
  @ApiProperty({ format: 'date-time', example: '2025-01-07T10:30:00Z' }) updated_at: string;
}

export class WebhookCreatedDto extends WebhookResponseDto {
  @ApiProperty({
    description: 'The signing secret, shown in this response only (Standard Webhooks: verify `webhook-signature` with it).',
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  })
  secret: string;
}

export class DeliveryResponseDto {
  @ApiProperty({ example: 7 }) id: number;
  @ApiProperty({ description: 'The `webhook-id` header: the same on every attempt, for deduplication.', example: 'evt_6f1c…' })
  event_id: string;
  @ApiProperty({ example: 'email.sent' }) event: string;
  @ApiProperty({ enum: ['pending', 'delivering', 'delivered', 'failed'], example: 'delivered' }) status: string;
  @ApiProperty({ example: 1 }) attempts: number;
  @ApiProperty({ nullable: true, type: 'integer', example: 200 }) last_status_code: number | null;
  @ApiProperty({ nullable: true, type: String, example: null }) last_error: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', example: '2025-01-07T10:30:01Z' }) last_attempt_at: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    format: 'date-time',
    example: null,
    description: 'When the next attempt is due (pending only).',
  })
  next_retry_at: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', example: '2025-01-07T10:30:01Z' }) delivered_at: string | null;
  @ApiProperty({ format: 'date-time', example: '2025-01-07T10:30:00Z' }) created_at: string;
}

export class DeliveryPageDto {
  @ApiProperty({ example: 1 }) count: number;
  @ApiProperty({ nullable: true, type: String, example: null }) next: string | null;
  @ApiProperty({ nullable: true, type: String, example: null }) previous: string | null;
  @ApiProperty({ type: [DeliveryResponseDto] }) results: DeliveryResponseDto[];
}

export class WebhookTestResultDto {
  @ApiProperty({ description: 'The receiver answered with a 2xx.', example: true }) success: boolean;
  @ApiProperty({ nullable: true, type: 'integer', example: 200 }) status_code: number | null;
  @ApiProperty({ nullable: true, type: String, example: null, description: 'Why the attempt failed; it is retried on the schedule.' })
  error: string | null;
  @ApiProperty({ description: 'Seconds.', example: 0.12 }) response_time: number;
  @ApiProperty({ type: DeliveryResponseDto }) delivery: DeliveryResponseDto;
}
