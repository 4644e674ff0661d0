import { loggableError } from '../common/errors/loggable-error.js';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { AppConfig, type SendingConfig } from '../config/app-config.js';
import { ProviderHealthService } from '../health/provider-health.service.js';
import { ProvidersService } from '../providers/providers.service.js';
import type { SendingProvider } from '../providers/sending-provider.js';
import { CLOCK, type Clock } from '../rate-limit/clock.js';
import { RateLimitService } from '../rate-limit/rate-limit.service.js';
import type { Reservation } from '../rate-limit/rate-limit.types.js';
import type { MessageRow, RejectedRecipient } from './message.types.js';
import { MessagesRepository } from './messages.repository.js';
import { classifySmtpFailure, type ClassifiedFailure } from './smtp-failure.js';
import type { Delivered, OutgoingMail } from './transports/mail-transport.js';
import { TransportRegistry } from './transports/transport-registry.js';

/** How one attempt through one provider ended. */
export type AttemptResult = { ok: true; delivered: Delivered; ms: number } | { ok: false; failure: ClassifiedFailure; ms: number };

function describeFailure(f: ClassifiedFailure): string {
  return [f.code, f.responseCode, f.reply].filter((x) => x !== null && x !== undefined && x !== '').join(' ');
}

/**
 * Takes one claimed message to a provider, or back to the queue, or to a recorded failure.
 * Candidates: the pinned provider alone; else the one an uncertain attempt used, then the
 * default, then priority 1, 2, 3 — skipping inactive, unhealthy and rate-limited ones.
 */
@Injectable()
export class DeliveryService {
  private readonly logger = new Logger(DeliveryService.name);
  private readonly config: SendingConfig;
  private readonly probeCooldownMs: number;

  constructor(
    private readonly messages: MessagesRepository,
    private readonly providers: ProvidersService,
    private readonly rateLimits: RateLimitService,
    private readonly transports: TransportRegistry,
    private readonly health: ProviderHealthService,
    @Inject(CLOCK) private readonly clock: Clock,
    config: AppConfig,
  ) {
    this.config = config.sending;
    this.probeCooldownMs = config.health.probeCooldownSeconds * 1000;
  }

  async deliver(message: MessageRow, owner: string): Promise<void> {
    const candidates = await this.candidates(message);
    let lastError: string | null = candidates.length ? null : 'no active provider can take the message now';
    let notBefore: Date | null = null;
    let hint: number | null = null;
    let previous: SendingProvider | null = null;

    for (const provider of candidates) {
      const reserved = await this.rateLimits.tryReserve(provider.id);
      if (!reserved.granted) {
        lastError = `provider ${provider.name} is at its ${reserved.refusedBy} limit`;
        if (reserved.notBefore && (!notBefore || reserved.notBefore < notBefore)) notBefore = reserved.notBefore;
        continue;
      }
      if (previous) this.failedOver(message, previous, provider, lastError);
      // The claim has just set the lease; only a later candidate needs it extended.
      if (previous && !(await this.messages.renewLease(message.id, owner, this.clock.now(), this.config.leaseSeconds))) {
        await this.rateLimits.release(reserved.reservation);
        this.logger.warn({ messageId: message.id }, 'lost the lease on a message; another worker has it');
        return;
      }
      const result = await this.attempt(message, provider, reserved.reservation);
      if (result.ok) {
        await this.messages.markSent(message.id, owner, provider.id, result.delivered.rejected, false);
        return;
      }
      const { failure } = result;
      if (failure.kind === 'message') {
        await this.messages.markFailed(message.id, owner, provider.id, `rejected by ${provider.name}: ${describeFailure(failure)}`);
        return;
      }
      if (failure.kind === 'uncertain') {
        // The provider may already have it: no failover now. Same Message-ID, same provider, later.
        this.logger.warn(
          { messageId: message.id, providerId: provider.id, code: failure.code },
          'outcome unknown after DATA; retrying later',
        );
        await this.messages.reschedule(message.id, owner, this.backoffFrom(message, null), `outcome unknown: ${describeFailure(failure)}`, {
          preferredProviderId: provider.id,
          uncertain: true,
        });
        return;
      }
      lastError = `${provider.name}: ${describeFailure(failure)}`;
      hint = failure.retryAfterSeconds ?? hint;
      previous = provider;
    }

    if (this.clock.now().getTime() - message.created_at.getTime() >= this.config.maxAgeSeconds * 1000) {
      await this.messages.markFailed(message.id, owner, null, `gave up after ${message.attempt_count} round(s): ${lastError}`);
      return;
    }
    await this.messages.reschedule(message.id, owner, this.backoffFrom(message, notBefore, hint), lastError, {
      preferredProviderId: message.preferred_provider_id,
    });
  }

  /** One attempt through one provider, recorded; the reservation is committed or released here. */
  async attempt(message: MessageRow, provider: SendingProvider, reservation: Reservation): Promise<AttemptResult> {
    const startedAt = this.clock.now();
    const t0 = performance.now();
    let result: AttemptResult;
    try {
      const transport = await this.transports.for(provider);
      const delivered = await transport.send(this.toMail(message, provider));
      result = { ok: true, delivered, ms: Math.round(performance.now() - t0) };
    } catch (err) {
      const written = (err as { messageWritten?: boolean } | null)?.messageWritten;
      const failure = classifySmtpFailure(err, written === undefined ? undefined : { messageWritten: written });
      result = { ok: false, failure, ms: Math.round(performance.now() - t0) };
    }
    // Uncertain counts as sent for the limits: the provider may have taken it.
    if (result.ok || result.failure.kind === 'uncertain') await this.rateLimits.commit(reservation);
    else await this.rateLimits.release(reservation);
    // Passive health: only the provider's own failures count against it; a rejected message
    // still shows a working server. An uncertain outcome says nothing either way.
    if (result.ok || result.failure.kind !== 'uncertain')
      await this.health.recordSendOutcome(
        provider,
        !result.ok && result.failure.kind === 'provider',
        result.ok ? null : describeFailure(result.failure),
      );
    await this.messages.recordAttempt({
      message_id: message.id,
      provider_id: provider.id,
      started_at: startedAt,
      response_time_ms: result.ms,
      outcome: result.ok
        ? 'accepted'
        : result.failure.kind === 'message'
          ? 'message_rejected'
          : result.failure.kind === 'uncertain'
            ? 'uncertain'
            : 'provider_failure',
      smtp_code: result.ok ? null : result.failure.responseCode,
      smtp_reply: result.ok ? result.delivered.reply : result.failure.reply,
      error_code: result.ok ? null : result.failure.code,
      rejected_recipients: result.ok ? result.delivered.rejected : ([] as RejectedRecipient[]),
    });
    return result;
  }

  private async candidates(message: MessageRow): Promise<SendingProvider[]> {
    if (message.pinned_provider_id !== null) {
      const pinned = await this.providers.forSending(message.pinned_provider_id);
      // A pinned provider is tried even when unhealthy: the caller chose it.
      return pinned?.isActive ? [pinned] : [];
    }
    const active = (await this.providers.sendingOrder()).filter((p) => p.isActive);
    const usable = active.filter((p) => p.healthStatus !== 'unhealthy');
    const preferred = usable.find((p) => p.id === message.preferred_provider_id);
    const ordered = preferred ? [preferred, ...usable.filter((p) => p !== preferred)] : usable;
    // An unhealthy provider whose cool-down has passed is a last resort: a success heals it.
    const cooledDown = this.clock.now().getTime() - this.probeCooldownMs;
    const probes = active.filter((p) => p.healthStatus === 'unhealthy' && p.unhealthySince && p.unhealthySince.getTime() <= cooledDown);
    return [...ordered, ...probes];
  }

  private failedOver(message: MessageRow, from: SendingProvider, to: SendingProvider, reason: string | null): void {
    this.logger.warn(
      { messageId: message.id, fromProviderId: from.id, fromProvider: from.name, toProviderId: to.id, toProvider: to.name, reason },
      `failover from ${from.name} to ${to.name}`,
    );
    void this.messages
      .recordFailover(from.id, to.id)
      .catch((err: unknown) => this.logger.error({ err: loggableError(err) }, 'could not count a failover'));
  }

  /** Exponential backoff with jitter, never before a limit allows or a server's hint says. */
  private backoffFrom(message: MessageRow, notBefore: Date | null, hintSeconds: number | null = null): Date {
    const exp = this.config.retryBaseSeconds * 2 ** Math.max(0, message.attempt_count - 1);
    const seconds = Math.min(this.config.retryMaxSeconds, Math.max(exp * (0.8 + Math.random() * 0.4), hintSeconds ?? 0));
    const at = this.clock.now().getTime() + seconds * 1000;
    return new Date(Math.max(at, notBefore?.getTime() ?? 0));
  }

  private toMail(message: MessageRow, provider: SendingProvider): OutgoingMail {
    return {
      messageId: message.message_id,
      from: { name: message.from_name ?? provider.fromName, address: message.from_email ?? provider.fromEmail },
      replyTo: message.reply_to ?? provider.replyTo,
      to: message.to_addresses,
      cc: message.cc_addresses,
      bcc: message.bcc_addresses,
      subject: message.subject,
      text: message.text_body,
      html: message.html_body,
      headers: message.headers,
      attachments: message.attachments.map((a) => ({
        filename: a.filename,
        content: Buffer.from(a.content, 'base64'),
        contentType: a.content_type,
      })),
    };
  }
}
