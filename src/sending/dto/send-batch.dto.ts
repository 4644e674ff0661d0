import { ApiProperty, OmitType } from '@nestjs/swagger';
import { field } from '../../common/validation/drf-fields.js';
import { MessageResponseDto } from './message-response.dto.js';
import { SendMessageDto } from './send-message.dto.js';

/** Messages in one POST /send/batch/: one multi-row INSERT holds them all. */
export const MAX_BATCH_MESSAGES = 500;

/** What an Idempotency-Key (header of /send/, field of a batch item) may hold. */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
export const IDEMPOTENCY_KEY_MESSAGE = 'Use 1 to 255 printable ASCII characters.';

/**
 * One message of a batch: the body of /send/ (validated by the same decorators) plus its own
 * idempotency key. `wait` has no meaning here (the batch answers once every message is stored)
 * and is ignored like any unknown field.
 */
export class SendBatchItemDto extends OmitType(SendMessageDto, ['wait'] as const) {
  @field('idempotencyKey', (v) => (typeof v === 'string' && IDEMPOTENCY_KEY.test(v) ? null : IDEMPOTENCY_KEY_MESSAGE), {
    nullable: true,
    api: {
      description: "This message's Idempotency-Key: up to 255 printable characters, scoped to the API key (shared with /send/'s header).",
      type: String,
      example: 'invoice-2025-0042',
    },
  })
  idempotency_key?: string | null;
}

export class SendBatchDto {
  @ApiProperty({
    description: `1 to ${MAX_BATCH_MESSAGES} messages, each shaped like the body of POST /send/.`,
    type: [SendBatchItemDto],
    minItems: 1,
    maxItems: MAX_BATCH_MESSAGES,
  })
  messages: SendBatchItemDto[];
}

export class SendBatchResultDto {
  @ApiProperty({ type: 'integer', description: 'Position of the message in `messages`, from 0.', example: 0 })
  index: number;

  @ApiProperty({
    type: 'integer',
    description:
      'This message alone: 202 stored now; 200 an idempotent replay (the original message; /send/ says so with 202 and ' +
      'Idempotent-Replayed); 400 invalid; 422 its idempotency key was used with a different request, or every recipient ' +
      'is suppressed; 503 / 500 only if it ' +
      'could not be stored while others were.',
    enum: [202, 200, 400, 422, 500, 503],
    example: 202,
  })
  status: number;

  @ApiProperty({ type: MessageResponseDto, required: false, description: 'With 202 and 200: the message, as /send/ returns it.' })
  message?: MessageResponseDto;

  @ApiProperty({
    required: false,
    description:
      'Otherwise: the body /send/ would have answered, i.e. field errors for 400 (`{"to": ["Enter a valid email address (item 1)."]}`) ' +
      'and for a 422 when every recipient is suppressed, `{"detail": "..."}` for the others.',
    type: Object,
    additionalProperties: true,
  })
  errors?: Record<string, unknown>;
}

export class SendBatchResponseDto {
  @ApiProperty({ type: 'integer', description: 'Messages in the request.', example: 2 })
  count: number;

  @ApiProperty({ type: 'integer', description: 'Messages stored by this request (results with status 202).', example: 1 })
  accepted: number;

  @ApiProperty({ type: [SendBatchResultDto], description: 'One result per message, in the order of `messages`.' })
  results: SendBatchResultDto[];
}

export const SEND_BATCH_EXAMPLE = {
  messages: [
    {
      to: ['alice@example.com'],
      subject: 'Your invoice',
      text: 'Hello Alice!',
      headers: { 'X-Campaign': 'billing' },
      idempotency_key: 'invoice-2025-0042',
    },
    { to: ['bob@example'], subject: 'Your invoice', text: 'Hello Bob!', idempotency_key: 'invoice-2025-0043' },
  ],
};

export const SEND_BATCH_RESPONSE_EXAMPLE = {
  count: 2,
  accepted: 1,
  results: [
    {
      index: 0,
      status: 202,
      message: {
        id: 42,
        status: 'queued',
        message_id: '<5b0e6f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b@mail.example.com>',
        is_test: false,
        to: ['alice@example.com'],
        cc: [],
        bcc: [],
        subject: 'Your invoice',
        from_email: null,
        from_name: null,
        reply_to: null,
        provider_id: null,
        pinned_provider_id: null,
        send_at: null,
        next_attempt_at: '2025-01-07T10:30:00.000Z',
        attempt_count: 0,
        outcome_uncertain: false,
        rejected_recipients: [],
        last_error: null,
        created_at: '2025-01-07T10:30:00.000Z',
        updated_at: '2025-01-07T10:30:00.000Z',
        sent_at: null,
        failed_at: null,
      },
    },
    { index: 1, status: 400, errors: { to: ['Enter a valid email address (item 1).'] } },
  ],
};
