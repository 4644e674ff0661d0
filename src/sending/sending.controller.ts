import { Body, Controller, Get, Headers, HttpCode, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadGatewayResponse,
  ApiBody,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { RequireScope } from '../common/auth/auth.decorators.js';
import { pageLinks } from '../common/pagination.js';
import { CurrentPrincipal } from '../common/auth/current-principal.decorator.js';
import type { Principal } from '../common/auth/principal.js';
import { AppError } from '../common/errors/app-error.js';
import { ApiNotFound, ApiValidationErrors } from '../common/errors/api-error-responses.js';
import { DetailResponseDto } from '../common/errors/error-response.dto.js';
import { ApiIdParam, IdParam } from '../common/validation/id.param.js';
import { MessageListQuery } from './dto/message-list.query.js';
import { MessagePageDto, MessageResponseDto } from './dto/message-response.dto.js';
import {
  IDEMPOTENCY_KEY,
  IDEMPOTENCY_KEY_MESSAGE,
  MAX_BATCH_MESSAGES,
  SEND_BATCH_EXAMPLE,
  SEND_BATCH_RESPONSE_EXAMPLE,
  SendBatchDto,
  SendBatchResponseDto,
} from './dto/send-batch.dto.js';
import { SEND_MESSAGE_EXAMPLES, SendMessageDto } from './dto/send-message.dto.js';
import { SendBatchPipe, type BatchItem } from './send-batch.pipe.js';
import { SendingService } from './sending.service.js';

function statusFor(status: string): number {
  return status === 'sent' ? 200 : status === 'failed' ? 502 : 202;
}

@ApiTags('sending')
@Controller()
export class SendingController {
  constructor(private readonly sending: SendingService) {}

  @Post('send')
  @RequireScope('send')
  @ApiOperation({
    summary: 'Queue a message for delivery, with failover across providers',
    description:
      'The message is stored before the answer (202). With `wait: true` the answer is 200 when sent, 502 when it failed for good, ' +
      'or 202 if still pending after SEND_WAIT_SECONDS. Repeating a request with the same Idempotency-Key returns the original message. ' +
      'Recipients on the suppression list are removed first and listed in `suppressed_recipients`; if none is left, 422 and nothing is stored.',
  })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'Up to 255 printable characters; scoped to the API key.' })
  @ApiAcceptedResponse({ type: MessageResponseDto, description: 'Stored; queued or scheduled.' })
  @ApiOkResponse({ type: MessageResponseDto, description: 'With `wait`: sent.' })
  @ApiBadGatewayResponse({ type: MessageResponseDto, description: 'With `wait`: failed for good.' })
  @ApiBody({ type: SendMessageDto, examples: SEND_MESSAGE_EXAMPLES })
  @ApiResponse({
    status: 422,
    description:
      'The Idempotency-Key was used with a different request (`detail`), or every recipient is suppressed (keyed by the fields ' +
      'they came from, like a validation error).',
    schema: {
      oneOf: [
        { $ref: getSchemaPath(DetailResponseDto) },
        { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
      ],
    },
    examples: {
      'key reused': { summary: 'key reused', value: { detail: 'This Idempotency-Key was already used with a different request.' } },
      'every recipient suppressed': {
        summary: 'every recipient suppressed',
        value: { to: ['Every recipient is suppressed: bounced@example.com'] },
      },
    },
  })
  @ApiValidationErrors({ to: ['Enter a valid email address (item 2).'], non_field_errors: ['Give text, html or both.'] })
  async send(
    @Body() dto: SendMessageDto,
    @CurrentPrincipal() principal: Principal,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<MessageResponseDto> {
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey))
      throw AppError.validation({ 'Idempotency-Key': [IDEMPOTENCY_KEY_MESSAGE] });
    const { message, created } = await this.sending.accept(dto, principal, idempotencyKey ?? null);
    if (!created) res.setHeader('Idempotent-Replayed', 'true');
    if (!dto.wait) {
      res.status(202);
      return message;
    }
    const outcome = await this.sending.waitForOutcome(message.id);
    res.status(statusFor(outcome.status));
    return outcome;
  }

  @Post('send/batch')
  @HttpCode(200)
  @RequireScope('send')
  @ApiOperation({
    summary: `Queue up to ${MAX_BATCH_MESSAGES} messages at once, each as POST /send/ would`,
    description:
      'The valid messages are stored together (one INSERT, one commit) before the answer; the answer is 200 with one result per ' +
      'message, in order: `202` with the message when stored, `200` with the original message for an idempotent replay, `400` with ' +
      "that message's field errors alone, `422` when its `idempotency_key` was used with a different request (`detail`) or when " +
      'every recipient is suppressed (field errors, as /send/ answers them). A bad envelope ' +
      `(not an object; \`messages\` missing, not a list, empty, or over ${MAX_BATCH_MESSAGES}) is a 400 for the whole request.`,
  })
  @ApiBody({ type: SendBatchDto, examples: { 'two messages': { value: SEND_BATCH_EXAMPLE } } })
  @ApiOkResponse({
    type: SendBatchResponseDto,
    description: 'One result per message.',
    examples: { 'one stored, one invalid': { summary: 'One stored, one invalid', value: SEND_BATCH_RESPONSE_EXAMPLE } },
  })
  @ApiValidationErrors({ messages: [`Ensure this field has no more than ${MAX_BATCH_MESSAGES} elements.`] })
  sendBatch(@Body(SendBatchPipe) items: BatchItem[], @CurrentPrincipal() principal: Principal): Promise<SendBatchResponseDto> {
    return this.sending.acceptBatch(items, principal);
  }

  @Get('messages')
  @RequireScope('send')
  @ApiOperation({ summary: 'List messages (an admin sees all, other keys their own), newest first, paginated' })
  @ApiOkResponse({ type: MessagePageDto, description: 'One page of messages, newest first.' })
  @ApiValidationErrors({ status: ['"lost" is not a valid choice.'] })
  list(@Query() query: MessageListQuery, @CurrentPrincipal() principal: Principal, @Req() req: Request): Promise<MessagePageDto> {
    return this.sending.list(query, principal, (page, size, count) => pageLinks(req, page, size, count));
  }

  @Get('messages/:id')
  @RequireScope('send')
  @ApiOperation({ summary: 'One message with every attempt' })
  @ApiIdParam()
  @ApiOkResponse({ type: MessageResponseDto, description: 'The message and its attempts.' })
  @ApiNotFound('message')
  get(@IdParam() id: number, @CurrentPrincipal() principal: Principal): Promise<MessageResponseDto> {
    return this.sending.get(id, principal);
  }
}
