import { ApiProperty } from '@nestjs/swagger';
import { SUPPRESSION_REASONS, type SuppressionReason } from '../../suppressions/suppression.types.js';
import { MESSAGE_STATUSES, type AttemptOutcome, type MessageStatus } from '../message.types.js';

export class RejectedRecipientDto {
  @ApiProperty({ example: 'nobody@example.com' }) address: string;
  @ApiProperty({ nullable: true, type: 'integer', example: 550 }) smtp_code: number | null;
  @ApiProperty({ nullable: true, type: String, example: '550 5.1.1 No such user' }) smtp_reply: string | null;
}

export class SuppressedRecipientDto {
  @ApiProperty({ example: 'bounced@example.com' }) address: string;
  @ApiProperty({ enum: SUPPRESSION_REASONS, example: 'hard_bounce' }) reason: SuppressionReason;
}

export class AttemptResponseDto {
  @ApiProperty({ example: 1 }) provider_id: number;
  @ApiProperty({ format: 'date-time', example: '2025-01-07T10:30:00Z' }) started_at: string;
  @ApiProperty({ description: 'Seconds.', example: 0.42 }) response_time: number;
  @ApiProperty({ enum: ['accepted', 'provider_failure', 'message_rejected', 'uncertain'], example: 'accepted' }) outcome: AttemptOutcome;
  @ApiProperty({ nullable: true, type: 'integer', example: null }) smtp_code: number | null;
  @ApiProperty({ nullable: true, type: String, example: '250 2.0.0 OK queued' }) smtp_reply: string | null;
  @ApiProperty({ description: "nodemailer's error code (ECONNECTION, EAUTH, EENVELOPE, …).", nullable: true, type: String, example: null })
  error_class: string | null;
  @ApiProperty({ type: [RejectedRecipientDto] }) rejected_recipients: RejectedRecipientDto[];
  @ApiProperty({
    description: "The provider's own id for the message (Amazon SES's MessageId), by which its bounce and complaint reports name it.",
    nullable: true,
    type: String,
    example: null,
  })
  provider_message_id: string | null;
}

export class FeedbackRecipientDto {
  @ApiProperty({ example: 'alice@example.com' }) address: string;
  @ApiProperty({ description: 'Bounces: the DSN status.', required: false, nullable: true, type: String, example: '5.1.1' })
  status?: string | null;
  @ApiProperty({
    description: 'Bounces: what the receiving server answered.',
    required: false,
    nullable: true,
    type: String,
    example: 'smtp; 550 5.1.1 user unknown',
  })
  diagnostic_code?: string | null;
}

/** What the provider reported about the message after taking it (Amazon SES through SNS). */
export class MessageFeedbackDto {
  @ApiProperty({ enum: ['bounce', 'complaint', 'delivery'], example: 'bounce' }) type: string;
  @ApiProperty({
    description: "Bounces: SES's bounceType/bounceSubType (`Permanent/General`); complaints: the feedback type (`abuse`).",
    nullable: true,
    type: String,
    example: 'Permanent/General',
  })
  subtype: string | null;
  @ApiProperty({ type: [FeedbackRecipientDto] }) recipients: FeedbackRecipientDto[];
  @ApiProperty({ format: 'date-time', example: '2025-01-07T10:30:05Z' }) occurred_at: string;
}

export class MessageResponseDto {
  @ApiProperty({ example: 42 }) id: number;
  @ApiProperty({ enum: MESSAGE_STATUSES, example: 'queued' }) status: MessageStatus;
  @ApiProperty({ description: 'The Message-ID header the message carries on every attempt.', example: '<3f1c…@mail.example.com>' })
  message_id: string;
  @ApiProperty({ example: false }) is_test: boolean;
  @ApiProperty({ type: [String], example: ['alice@example.com'] }) to: string[];
  @ApiProperty({ type: [String], example: [] }) cc: string[];
  @ApiProperty({ type: [String], example: [] }) bcc: string[];
  @ApiProperty({ example: 'Your invoice' }) subject: string;
  @ApiProperty({ nullable: true, type: String, example: null }) from_email: string | null;
  @ApiProperty({ nullable: true, type: String, example: null }) from_name: string | null;
  @ApiProperty({ nullable: true, type: String, example: null }) reply_to: string | null;
  @ApiProperty({ description: 'The provider that took (or last rejected) the message.', nullable: true, type: 'integer', example: 1 })
  provider_id: number | null;
  @ApiProperty({ nullable: true, type: 'integer', example: null }) pinned_provider_id: number | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', example: null }) send_at: string | null;
  @ApiProperty({ format: 'date-time', example: '2025-01-07T10:30:00Z' }) next_attempt_at: string;
  @ApiProperty({ description: 'Delivery rounds so far.', example: 1 }) attempt_count: number;
  @ApiProperty({ description: 'A connection was lost after the message was handed over: a rare duplicate is possible.', example: false })
  outcome_uncertain: boolean;
  @ApiProperty({ type: [RejectedRecipientDto] }) rejected_recipients: RejectedRecipientDto[];
  @ApiProperty({
    type: [SuppressedRecipientDto],
    description:
      'Recipients removed when the message was accepted because their address is on the suppression list (GET /suppressions/): ' +
      'the message is not sent to them. `to`, `cc` and `bcc` hold the recipients that remain.',
  })
  suppressed_recipients: SuppressedRecipientDto[];
  @ApiProperty({ nullable: true, type: String, example: null }) last_error: string | null;
  @ApiProperty({ format: 'date-time', example: '2025-01-07T10:30:00Z' }) created_at: string;
  @ApiProperty({ format: 'date-time', example: '2025-01-07T10:30:01Z' }) updated_at: string;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', example: null }) sent_at: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', example: null }) failed_at: string | null;
  @ApiProperty({
    description:
      'When the text, html, custom headers and attachments were dropped (MESSAGE_BODY_RETENTION_DAYS after the message was sent or ' +
      'failed); null while they are kept. The message is deleted altogether after MESSAGE_RETENTION_DAYS.',
    nullable: true,
    type: String,
    format: 'date-time',
    example: null,
  })
  body_dropped_at: string | null;
  @ApiProperty({ type: [AttemptResponseDto], required: false, description: 'Every attempt, oldest first (detail route only).' })
  attempts?: AttemptResponseDto[];
  @ApiProperty({
    type: [MessageFeedbackDto],
    required: false,
    description: 'Bounces, complaints and deliveries the provider reported, oldest first (detail route only).',
  })
  feedback?: MessageFeedbackDto[];
}

export class MessagePageDto {
  @ApiProperty({ example: 1 }) count: number;
  @ApiProperty({ nullable: true, type: String, example: null }) next: string | null;
  @ApiProperty({ nullable: true, type: String, example: null }) previous: string | null;
  @ApiProperty({ type: [MessageResponseDto] }) results: MessageResponseDto[];
}
