import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import type { Principal } from '../common/auth/principal.js';
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

export type SendOutcome = { message: MessageResponseDto; created: boolean };

const FINAL = new Set(['sent', 'failed']);

@Injectable()
export class SendingService {
  private readonly logger = new Logger(SendingService.name);
  private readonly config: SendingConfig;

  constructor(
    private readonly messages: MessagesRepository,
    private readonly providers: ProvidersService,
    private readonly rateLimits: RateLimitService,
    private readonly delivery: DeliveryService,
    private readonly outcomes: OutcomeWriter,
    private readonly worker: SendWorker,
    private readonly leases: LeaseKeeper,
    private readonly types: ProviderTypeRegistry,
    @Inject(CLOCK) private readonly clock: Clock,
    config: AppConfig,
  ) {
    this.config = config.sending;
  }

  /**
   * Writes the message to PostgreSQL before answering: once this returns, the message reaches a
   * provider or ends in a recorded failure. With an idempotency key already used by the same API
   * key, returns the original message (or 422 if the request differs) and sends nothing new.
   */
  async accept(dto: SendMessageDto, principal: Principal, idempotencyKey: string | null): Promise<SendOutcome> {
    await this.check(dto);
    const { wait: _wait, ...request } = dto;
    const requestHash = createHash('sha256')
      .update(JSON.stringify(request, Object.keys(request).sort()))
      .digest('hex');
    const now = this.clock.now();
    const sendAt = dto.send_at ? new Date(dto.send_at) : null;
    const scheduled = sendAt !== null && sendAt > now;
    const row = await this.messages.insert({
      api_key_id: principal.keyId,
      idempotency_key: idempotencyKey,
      request_hash: requestHash,
      status: scheduled ? 'scheduled' : 'queued',
      is_test: false,
      message_id: this.newMessageId(),
      from_email: dto.from_email ?? null,
      from_name: dto.from_name ?? null,
      reply_to: dto.reply_to || null,
      to_addresses: dto.to,
      cc_addresses: dto.cc ?? [],
      bcc_addresses: dto.bcc ?? [],
      subject: dto.subject,
      text_body: dto.text ?? null,
      html_body: dto.html ?? null,
      headers: dto.headers ?? {},
      attachments: (dto.attachments ?? []).map((a) => ({ filename: a.filename, content: a.content, content_type: a.content_type ?? null })),
      pinned_provider_id: dto.provider_id ?? null,
      send_at: sendAt,
      next_attempt_at: scheduled ? (sendAt as Date) : now,
    });
    if (!row) {
      const original = await this.messages.findByIdempotencyKey(principal.keyId, idempotencyKey as string);
      if (!original || original.request_hash !== requestHash)
        throw new AppError(ErrorCode.IdempotencyMismatch, 'This Idempotency-Key was already used with a different request.');
      return { message: this.map(original), created: false };
    }
    this.logger.log(
      { messageId: row.id, recipients: dto.to.length + (dto.cc?.length ?? 0) + (dto.bcc?.length ?? 0), status: row.status },
      'message accepted',
    );
    if (!scheduled) this.worker.wake();
    return { message: this.map(row), created: true };
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
    return this.map(row, await this.messages.attemptsOf(row.id));
  }

  async get(id: number, principal: Principal): Promise<MessageResponseDto> {
    const row = await this.messages.findById(String(id));
    if (!row || !this.visibleTo(row, principal)) throw AppError.notFound();
    return this.map(row, await this.messages.attemptsOf(row.id));
  }

  async list(
    query: MessageListQuery,
    principal: Principal,
    links: (page: number, size: number, count: number) => Pick<MessagePageDto, 'next' | 'previous'>,
  ): Promise<MessagePageDto> {
    const page = query.page ?? 1;
    const size = query.page_size ?? 50;
    const { count, rows } = await this.messages.list(
      {
        apiKeyId: principal.scopes.includes('admin') ? undefined : principal.keyId,
        status: query.status,
        providerId: query.provider_id,
        createdSince: query.created_since ? new Date(query.created_since) : undefined,
        createdUntil: query.created_until ? new Date(query.created_until) : undefined,
      },
      size,
      (page - 1) * size,
    );
    return { count, ...links(page, size, count), results: rows.map((r) => this.map(r)) };
  }

  /** Seed section 6: one real message through this provider alone, recorded and counted like any send. */
  async test(providerId: number, testEmail: string): Promise<{ result: ProviderTestResultDto; ok: boolean }> {
    const provider = await this.providers.forSending(providerId);
    if (!provider) throw AppError.notFound();
    const reserved = await this.rateLimits.tryReserve(provider.id);
    if (!reserved.granted) {
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

  /** Rules the DTO cannot express alone. */
  private async check(dto: SendMessageDto): Promise<void> {
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
    if (dto.provider_id) {
      const provider = await this.providers.forSending(dto.provider_id);
      if (!provider) errors.provider_id = [`Invalid pk "${dto.provider_id}" - object does not exist.`];
    }
    if (Object.keys(errors).length) throw AppError.validation(errors);
  }

  private visibleTo(row: MessageRow, principal: Principal): boolean {
    return principal.scopes.includes('admin') || (row.api_key_id ?? null) === principal.keyId;
  }

  private newMessageId(): string {
    return `<${randomUUID()}@${this.config.messageIdDomain}>`;
  }

  private map(m: MessageRow, attempts?: AttemptRow[]): MessageResponseDto {
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
        })),
      }),
    };
  }
}
