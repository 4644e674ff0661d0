import { Injectable, type PipeTransform } from '@nestjs/common';
import { AppError, ErrorCode, type FieldErrors } from '../common/errors/app-error.js';
import { MSG } from '../common/validation/drf-fields.js';
import { bodyShapeErrors, createValidationPipe, pythonType } from '../common/validation/validation.pipe.js';
import { MAX_BATCH_MESSAGES, SendBatchItemDto } from './dto/send-batch.dto.js';

/** One message of a batch after validation: its DTO, or the field errors /send/ would have answered for it. */
export type BatchItem = { index: number; dto: SendBatchItemDto } | { index: number; errors: FieldErrors };

function envelopeErrors(body: unknown): FieldErrors | null {
  // No body at all reads as an empty object, as DRF reads it: "messages" is then missing.
  const shape = bodyShapeErrors(body === undefined ? {} : body);
  if (shape) return shape;
  const messages = (body as Record<string, unknown> | undefined)?.messages;
  if (messages === undefined) return { messages: [MSG.required] };
  if (messages === null) return { messages: [MSG.nullNotAllowed] };
  if (!Array.isArray(messages)) return { messages: [MSG.list(pythonType(messages))] };
  if (messages.length === 0) return { messages: ['This list may not be empty.'] };
  if (messages.length > MAX_BATCH_MESSAGES) return { messages: [`Ensure this field has no more than ${MAX_BATCH_MESSAGES} elements.`] };
  return null;
}

/**
 * The body of POST /send/batch/. A bad envelope (not an object; `messages` missing, not a list,
 * empty or too long) refuses the whole request (400). Each message is then validated alone, by
 * the very pipe that validates the body of /send/ (same DTO decorators, same checks on nesting and
 * text), so its errors are the ones /send/ would give and never spill onto its neighbours.
 *
 * The route's parameter is typed as a list, which the global pipe leaves alone: it would
 * otherwise refuse the whole batch for one message's bad text.
 */
@Injectable()
export class SendBatchPipe implements PipeTransform<unknown, Promise<BatchItem[]>> {
  private readonly validation = createValidationPipe();

  async transform(body: unknown): Promise<BatchItem[]> {
    const envelope = envelopeErrors(body);
    if (envelope) throw AppError.validation(envelope);
    const messages = (body as { messages: unknown[] }).messages;
    const items: BatchItem[] = [];
    // One after another: a batch is no reason to hold 500 validations in flight at once.
    for (const [index, message] of messages.entries()) items.push(await this.validate(index, message));
    return items;
  }

  private async validate(index: number, message: unknown): Promise<BatchItem> {
    try {
      const dto = (await this.validation.transform(message, { type: 'body', metatype: SendBatchItemDto })) as SendBatchItemDto;
      return { index, dto };
    } catch (err) {
      if (err instanceof AppError && err.code === ErrorCode.ValidationFailed && err.fields) return { index, errors: err.fields };
      throw err;
    }
  }
}
