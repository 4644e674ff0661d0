import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DATABASE_UNAVAILABLE_DETAIL, databaseUnavailability } from '../common/errors/database-unavailable.js';
import { loggableError } from '../common/errors/loggable-error.js';
import type { SendBatchItemDto, SendBatchResponseDto, SendBatchResultDto } from './dto/send-batch.dto.js';
import type { NewMessage } from './message.types.js';
import { MessageInsertBatcher } from './message-insert-batcher.js';
import { requestHash } from './request-hash.js';
import type { BatchItem } from './send-batch.pipe.js';
import type { Principal } from '../common/auth/principal.js';
import { pageOf } from '../common/pagination.js';
import { AppError, ErrorCode, type FieldErrors } from '../common/errors/app-error.js';
import { AppConfig, type SendingConfig } from '../config/app-config.js';
import { ProvidersService } from '../providers/providers.service.js';
import { CLOCK, type Clock } from '../rate-limit/clock.js';
import { RateLimitService } from '../rate-limit/rate-limit.service.js';
import { DeliveryService } from './delivery.service.js';
import type { MessageListQuery } from './dto/message-list.query.js';
import type { MessagePageDto, MessageResponseDto } from './dto/message-response.dto.js';
import type { ProviderTestResultDto } from './dto/provider-test.dto.js';
import { MAX_RECIPIENTS, type SendMessageDto } from './dto/send-message.dto.js';
import type { AttemptRow, MessageRow } from './message.types.js';
import { MessagesRepository } from './messages.repository.js';
import { OutcomeWriter } from './outcome-writer.js';
import { LeaseKeeper } from './lease-keeper.js';
import { ProviderTypeRegistry } from '../provider-types/provider-type.registry.js';
import { describeFailure } from '../provider-types/send-failure.js';
import { SendWorker } from './send-worker.js';
import { RECIPIENT_FIELDS, removeSuppressed, type Kept, type Recipients } from '../suppressions/suppressed-recipients.js';
import { SuppressionsService } from '../suppressions/suppressions.service.js';
import { SesNotificationsService } from '../ses-notifications/ses-notifications.service.js';
import type { FeedbackRow } from '../ses-notifications/ses-notifications.repository.js';
import { limitLabel, MetricsService } from '../metrics/metrics.service.js';

export type SendOutcome = { message: MessageResponseDto; created: boolean };

interface Draft {
  message: NewMessage;
  scheduled: boolean;
}

function idempotencyMismatch(): AppError {
  return new AppError(ErrorCode.IdempotencyMismatch, 'This Idempotency-Key was already used with a different request.');
}

/** A message's recipients as the request gives them. */
function recipientsOf(dto: SendMessageDto | SendBatchItemDto): Recipients {
  return { to: dto.to, cc: dto.cc ?? [], bcc: dto.bcc ?? [] };
}

function addressesOf(dto: SendMessageDto | SendBatchItemDto): string[] {
  const r = recipientsOf(dto);
  return RECIPIENT_FIELDS.flatMap((f) => r[f]);
}

const FINAL = new Set(['sent', 'failed']);

@Injectable()
export class SendingService {
  private readonly logger = new Logger(SendingService.name);
  private readonly config: SendingConfig;

  constructor(
    private readonly messages: MessagesRepository,
    private readonly inserts: MessageInsertBatcher,
    private readonly providers: ProvidersService,
    private readonly rateLimits: RateLimitService,
    private readonly delivery: DeliveryService,
    private readonly outcomes: OutcomeWriter,
    private readonly worker: SendWorker,
    private readonly leases: LeaseKeeper,
    private readonly types: ProviderTypeRegistry,
    private readonly metrics: MetricsService,
    private readonly suppressions: SuppressionsService,
    private readonly feedback: SesNotificationsService,
    @Inject(CLOCK) private readonly clock: Clock,
    config: AppConfig,
  ) {
    this.config = config.sending;
  }

  /**
   * Writes the message to PostgreSQL before answering: once this returns, the message reaches a
   * provider or ends in a recorded failure. With an idempotency key already used by the same API
   * key, returns the original message (or 422 if the request differs) and sends nothing new.
   * Suppressed recipients are removed first; with none left, 422 and nothing is stored.
   * Concurrent calls share one INSERT (see MessageInsertBatcher).
   */
  async accept(dto: SendMessageDto, principal: Principal, idempotencyKey: string | null): Promise<SendOutcome> {
    const problems = await this.problemsOf(dto, (id) => this.providerExists(id));
    if (problems) throw AppError.validation(problems);
    const screened = removeSuppressed(recipientsOf(dto), await this.suppressions.reasonsFor(addressesOf(dto)));
    if ('refused' in screened) {
      // A replay of a message accepted before its last recipients were suppressed still answers the original.
      const original = idempotencyKey ? await this.messages.findByIdempotencyKey(principal.keyId, idempotencyKey) : null;
      if (!original) throw AppError.unprocessable(screened.refused);
      return { message: this.replayed(original, requestHash(dto)), created: false };
    }
    const draft = this.draft(dto, principal, idempotencyKey, screened);
    const row = await this.inserts.insert(draft.message);
    if (!row) {
      const original = await this.messages.findByIdempotencyKey(principal.keyId, idempotencyKey as string);
      return { message: this.replayed(original, draft.message.request_hash as string), created: false };
    }
    const recipients = RECIPIENT_FIELDS.reduce((n, f) => n + screened.recipients[f].length, 0);
    this.logger.log({ messageId: row.id, recipients, suppressed: screened.suppressed.length, status: row.status }, 'message accepted');
    this.metrics.accepted();
    if (!draft.scheduled) this.worker.wake();
    return { message: this.map(row), created: true };
  }

  /**
   * POST /send/batch/: every valid message of the batch in one INSERT (one commit), then one result
   * per message, in order, with the status /send/ would have answered for it alone. The recipients
   * of all its messages are looked up in the suppression list at once. The worker is woken once.
   * If nothing could be stored (the database is down), the request fails as a whole.
   */
  async acceptBatch(items: BatchItem[], principal: Principal): Promise<SendBatchResponseDto> {
    const results: SendBatchResultDto[] = [];
    const valid: { index: number; dto: SendBatchItemDto; key: string | null }[] = [];
    const known = new Map<number, Promise<boolean>>();
    const providerExists = (id: number) => known.get(id) ?? known.set(id, this.providerExists(id)).get(id)!;
    for (const item of items) {
      const errors = 'errors' in item ? item.errors : await this.problemsOf(item.dto, providerExists);
      if (errors) results[item.index] = { index: item.index, status: 400, errors };
      else if ('dto' in item) valid.push({ index: item.index, dto: item.dto, key: item.dto.idempotency_key ?? null });
    }
    const reasons = await this.suppressions.reasonsFor(valid.flatMap((v) => addressesOf(v.dto)));
    const drafts: (Draft & { index: number; key: string | null })[] = [];
    const refused: ((typeof valid)[number] & { errors: FieldErrors })[] = [];
    for (const v of valid) {
      const screened = removeSuppressed(recipientsOf(v.dto), reasons);
      if ('refused' in screened) refused.push({ ...v, errors: screened.refused });
      else drafts.push({ index: v.index, key: v.key, ...this.draft(v.dto, principal, v.key, screened) });
    }
    const outcomes = await this.inserts.insertAll(drafts.map((d) => d.message));
    const failed = outcomes.filter((o): o is { error: unknown } => 'error' in o);
    if (failed.length && failed.length === outcomes.length) throw failed[0].error;

    const replayed = drafts.filter((d, i) => 'row' in outcomes[i] && outcomes[i].row === null).map((d) => d.key as string);
    const keys = [...replayed, ...refused.flatMap((r) => (r.key ? [r.key] : []))];
    const originals = keys.length ? await this.messages.findByIdempotencyKeys(principal.keyId, keys) : new Map<string, MessageRow>();
    const replayResult = (index: number, original: MessageRow | undefined, hash: string): SendBatchResultDto =>
      original && original.request_hash === hash
        ? { index, status: 200, message: this.map(original) }
        : { index, status: 422, errors: { detail: idempotencyMismatch().detail } };
    drafts.forEach((d, i) => {
      const outcome = outcomes[i];
      if ('error' in outcome) results[d.index] = this.failedResult(d.index, outcome.error);
      else if (outcome.row) results[d.index] = { index: d.index, status: 202, message: this.map(outcome.row) };
      else results[d.index] = replayResult(d.index, originals.get(d.key as string), d.message.request_hash as string);
    });
    for (const r of refused) {
      const original = r.key ? originals.get(r.key) : undefined;
      results[r.index] = original ? replayResult(r.index, original, requestHash(r.dto)) : { index: r.index, status: 422, errors: r.errors };
    }
    const accepted = results.filter((r) => r.status === 202).length;
    this.metrics.accepted(accepted);
    if (drafts.some((d, i) => !d.scheduled && 'row' in outcomes[i] && outcomes[i].row)) this.worker.wake();
    this.logger.log({ count: items.length, accepted, refused: results.length - accepted }, 'batch accepted');
    return { count: items.length, accepted, results };
  }

  /** A message of a batch that could not be stored while others were: the status and body /send/ would have answered. */
  private failedResult(index: number, error: unknown): SendBatchResultDto {
    if (databaseUnavailability(error)) return { index, status: 503, errors: { detail: DATABASE_UNAVAILABLE_DETAIL } };
    const errorId = randomUUID();
    this.logger.error({ err: loggableError(error), errorId }, 'a message of a batch could not be stored');
    return { index, status: 500, errors: { detail: 'A server error occurred.', error_id: errorId } };
  }

  /** The original message an idempotent replay answers, if the request is the same. */
  private replayed(original: MessageRow | null, hash: string): MessageResponseDto {
    if (!original || original.request_hash !== hash) throw idempotencyMismatch();
    return this.map(original);
  }

  /** The row to insert for a validated message, sent to the recipients left once the suppressed ones are removed. */
  private draft(dto: SendMessageDto | SendBatchItemDto, principal: Principal, idempotencyKey: string | null, screened: Kept): Draft {
    const now = this.clock.now();
    const sendAt = dto.send_at ? new Date(dto.send_at) : null;
    const scheduled = sendAt !== null && sendAt > now;
    return {
      scheduled,
      message: {
        api_key_id: principal.keyId,
        idempotency_key: idempotencyKey,
        request_hash: requestHash(dto),
        status: scheduled ? 'scheduled' : 'queued',
        is_test: false,
        message_id: this.newMessageId(),
        from_email: dto.from_email ?? null,
        from_name: dto.from_name ?? null,
        reply_to: dto.reply_to || null,
        to_addresses: screened.recipients.to,
        cc_addresses: screened.recipients.cc,
        bcc_addresses: screened.recipients.bcc,
        suppressed_recipients: screened.suppressed,
        subject: dto.subject,
        text_body: dto.text ?? null,
        html_body: dto.html ?? null,
        headers: dto.headers ?? {},
        attachments: (dto.attachments ?? []).map((a) => ({
          filename: a.filename,
          content: a.content,
          content_type: a.content_type ?? null,
        })),
        pinned_provider_id: dto.provider_id ?? null,
        send_at: sendAt,
        next_attempt_at: scheduled ? (sendAt as Date) : now,
      },
    };
  }

  /** Polls until the message is sent or failed, or the bound passes. */
  async waitForOutcome(id: number): Promise<MessageResponseDto> {
    const deadline = Date.now() + this.config.waitSeconds * 1000;
    let row = await this.messages.findById(String(id));
    while (row && !FINAL.has(row.status) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      row = await this.messages.findById(String(id));
    }
    if (!row) throw AppError.notFound();
    return this.detail(row);
  }

  async get(id: number, principal: Principal): Promise<MessageResponseDto> {
    const row = await this.messages.findById(String(id));
    if (!row || !this.visibleTo(row, principal)) throw AppError.notFound();
    return this.detail(row);
  }

  private async detail(row: MessageRow): Promise<MessageResponseDto> {
    const [attempts, feedback] = await Promise.all([this.messages.attemptsOf(row.id), this.feedback.feedbackOf(row.id)]);
    return this.map(row, attempts, feedback);
  }

  async list(
    query: MessageListQuery,
    principal: Principal,
    links: (page: number, size: number, count: number) => Pick<MessagePageDto, 'next' | 'previous'>,
  ): Promise<MessagePageDto> {
    const { page, size, offset } = pageOf(query);
    const { count, rows } = await this.messages.list(
      {
        apiKeyId: principal.scopes.includes('admin') ? undefined : principal.keyId,
        status: query.status,
        providerId: query.provider_id,
        createdSince: query.created_since ? new Date(query.created_since) : undefined,
        createdUntil: query.created_until ? new Date(query.created_until) : undefined,
      },
      size,
      offset,
    );
    return { count, ...links(page, size, count), results: rows.map((r) => this.map(r)) };
  }

  /** Seed section 6: one real message through this provider alone, recorded and counted like any send. */
  async test(providerId: number, testEmail: string): Promise<{ result: ProviderTestResultDto; ok: boolean }> {
    const provider = await this.providers.forSending(providerId);
    if (!provider) throw AppError.notFound();
    const reserved = await this.rateLimits.tryReserve(provider.id);
    if (!reserved.granted) {
      if (reserved.refusedBy !== 'missing') this.metrics.rateLimited(provider.id, limitLabel(reserved.refusedBy));
      const retryAfter = reserved.notBefore
        ? Math.max(1, Math.ceil((reserved.notBefore.getTime() - this.clock.now().getTime()) / 1000))
        : null;
      throw new AppError(ErrorCode.RateLimited, `Provider ${provider.name} is at its ${reserved.refusedBy} limit.`, undefined, {
        headers: retryAfter ? { 'Retry-After': String(retryAfter) } : undefined,
      });
    }
    const owner = `test:${randomUUID()}`;
    const now = this.clock.now();
    const token = await this.messages.nextLeaseToken();
    const row = (await this.messages.insert({
      api_key_id: null,
      idempotency_key: null,
      request_hash: null,
      status: 'sending',
      is_test: true,
      message_id: this.newMessageId(),
      from_email: null,
      from_name: null,
      reply_to: null,
      to_addresses: [testEmail],
      cc_addresses: [],
      bcc_addresses: [],
      // An operator testing a provider chose the address: the suppression list does not apply.
      suppressed_recipients: [],
      subject: `Test email from ${provider.name}`,
      text_body: `This is a test message sent through the provider "${provider.name}" by the email provider service.`,
      html_body: null,
      headers: {},
      attachments: [],
      pinned_provider_id: provider.id,
      send_at: null,
      next_attempt_at: now,
      lease_owner: owner,
      lease_expires_at: new Date(now.getTime() + this.config.leaseSeconds * 1000),
      lease_token: token,
    })) as MessageRow;
    // Held like a worker's claim, so a slow test send is never claimed and sent again by a worker.
    const lease = { id: row.id, token };
    this.leases.hold(lease);
    try {
      const { result: attempt, record } = await this.delivery.attempt(row, provider);
      const responseTime = Math.round(attempt.ms) / 1000;
      const f = attempt.ok ? null : attempt.failure;
      const error = f && `${this.types.of(provider.providerType).errorLabel}: ${describeFailure(f)}`;
      await this.outcomes.write({
        lease,
        finish: attempt.ok
          ? { status: 'sent', providerId: provider.id, rejected: attempt.delivered.rejected }
          : { status: 'failed', providerId: provider.id, error: error as string, uncertain: f?.kind === 'uncertain' },
        reservations: [{ reservation: reserved.reservation, counts: attempt.ok || f?.kind === 'uncertain' }],
        attempts: [record],
        providerId: provider.id,
      });
      if (attempt.ok)
        return {
          ok: true,
          result: {
            success: true,
            message: 'Test email sent successfully',
            provider_name: provider.name,
            response_time: responseTime,
            message_id: row.message_id,
          },
        };
      return { ok: false, result: { success: false, error: error as string, provider_name: provider.name, response_time: responseTime } };
    } finally {
      this.leases.drop(lease);
    }
  }

  /** Rules the DTO cannot express alone: the field errors /send/ answers, or null. */
  private async problemsOf(
    dto: SendMessageDto | SendBatchItemDto,
    providerExists: (id: number) => Promise<boolean>,
  ): Promise<FieldErrors | null> {
    const errors: FieldErrors = {};
    if (!dto.text && !dto.html) errors.non_field_errors = ['Give text, html or both.'];
    if (dto.to.length + (dto.cc?.length ?? 0) + (dto.bcc?.length ?? 0) > MAX_RECIPIENTS)
      errors.non_field_errors = [...(errors.non_field_errors ?? []), `At most ${MAX_RECIPIENTS} recipients across to, cc and bcc.`];
    const bytes = (dto.attachments ?? []).reduce(
      (sum, a) => sum + Math.floor((a.content.length * 3) / 4) - (a.content.match(/=+$/)?.[0].length ?? 0),
      0,
    );
    if (bytes > this.config.maxAttachmentBytes)
      errors.attachments = [`The attachments total ${bytes} bytes; the limit is ${this.config.maxAttachmentBytes}.`];
    if (dto.provider_id && !(await providerExists(dto.provider_id)))
      errors.provider_id = [`Invalid pk "${dto.provider_id}" - object does not exist.`];
    return Object.keys(errors).length ? errors : null;
  }

  private async providerExists(id: number): Promise<boolean> {
    return (await this.providers.forSending(id)) !== null;
  }

  private visibleTo(row: MessageRow, principal: Principal): boolean {
    return principal.scopes.includes('admin') || (row.api_key_id ?? null) === principal.keyId;
  }

  private newMessageId(): string {
    return `<${randomUUID()}@${this.config.messageIdDomain}>`;
  }

  private map(m: MessageRow, attempts?: AttemptRow[], feedback?: FeedbackRow[]): MessageResponseDto {
    const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);
    return {
      id: Number(m.id),
      status: m.status,
      message_id: m.message_id,
      is_test: m.is_test,
      to: m.to_addresses,
      cc: m.cc_addresses,
      bcc: m.bcc_addresses,
      subject: m.subject,
      from_email: m.from_email,
      from_name: m.from_name,
      reply_to: m.reply_to,
      provider_id: m.provider_id,
      pinned_provider_id: m.pinned_provider_id,
      send_at: iso(m.send_at),
      next_attempt_at: new Date(m.next_attempt_at).toISOString(),
      attempt_count: m.attempt_count,
      outcome_uncertain: m.outcome_uncertain,
      rejected_recipients: m.rejected_recipients,
      suppressed_recipients: m.suppressed_recipients,
      last_error: m.last_error,
      created_at: new Date(m.created_at).toISOString(),
      updated_at: new Date(m.updated_at).toISOString(),
      sent_at: iso(m.sent_at),
      failed_at: iso(m.failed_at),
      body_dropped_at: iso(m.body_dropped_at),
      ...(attempts && {
        attempts: attempts.map((a) => ({
          provider_id: a.provider_id,
          started_at: new Date(a.started_at).toISOString(),
          response_time: a.response_time_ms / 1000,
          outcome: a.outcome,
          smtp_code: a.smtp_code,
          smtp_reply: a.smtp_reply,
          error_class: a.error_code,
          rejected_recipients: a.rejected_recipients,
          provider_message_id: a.provider_message_id,
        })),
      }),
      ...(feedback && {
        feedback: feedback.map((f) => ({
          type: f.type,
          subtype: f.subtype,
          recipients: f.recipients,
          occurred_at: new Date(f.occurred_at).toISOString(),
        })),
      }),
    };
  }
}
