import { databaseUnavailability } from '../common/errors/database-unavailable.js';
import { LogThrottle } from '../common/logging/log-throttle.js';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { AppConfig, type SendingConfig } from '../config/app-config.js';
import { ProviderHealthService } from '../health/provider-health.service.js';
import { ProvidersService } from '../providers/providers.service.js';
import type { SendingProvider } from '../providers/sending-provider.js';
import { CLOCK, type Clock } from '../rate-limit/clock.js';
import { RateLimitService } from '../rate-limit/rate-limit.service.js';
import type { Reservation } from '../rate-limit/rate-limit.types.js';
import { LeaseKeeper } from './lease-keeper.js';
import { leaseOf, type Lease, type MessageRow, type RejectedRecipient } from './message.types.js';
import { MessagesRepository } from './messages.repository.js';
import type { Delivered, OutgoingMail } from '../provider-types/mail-transport.js';
import { describeFailure, failureOf, type ClassifiedFailure } from '../provider-types/send-failure.js';
import { TransportCache } from './transport-cache.js';

/** How long a final write keeps trying while the database cannot be reached. */
const FINAL_WRITE_PATIENCE_MS = 5 * 60_000;

/** How one attempt through one provider ended. */
export type AttemptResult = { ok: true; delivered: Delivered; ms: number } | { ok: false; failure: ClassifiedFailure; ms: number };

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
  private readonly failures: LogThrottle;

  constructor(
    private readonly messages: MessagesRepository,
    private readonly providers: ProvidersService,
    private readonly rateLimits: RateLimitService,
    private readonly transports: TransportCache,
    private readonly health: ProviderHealthService,
    private readonly leases: LeaseKeeper,
    @Inject(CLOCK) private readonly clock: Clock,
    config: AppConfig,
  ) {
    this.config = config.sending;
    this.probeCooldownMs = config.health.probeCooldownSeconds * 1000;
    this.failures = new LogThrottle(this.logger, config.logRepeatIntervalMs);
  }

  /** Takes a message this worker has just claimed; its lease is kept alive until the result is written. */
  async deliver(message: MessageRow): Promise<void> {
    const lease = leaseOf(message);
    this.leases.hold(lease);
    try {
      await this.deliverHeld(message, lease);
    } finally {
      this.leases.drop(lease);
    }
  }

  private async deliverHeld(message: MessageRow, lease: Lease): Promise<void> {
    const candidates = await this.candidates(message);
    let lastError: string | null = candidates.length ? null : 'no active provider can take the message now';
    let notBefore: Date | null = null;
    let hint: number | null = null;
    let previous: SendingProvider | null = null;
    // Whether a provider's trouble (not a limit) kept the message: it moves forward when one recovers.
    let awaitingProvider = candidates.length === 0;

    for (const provider of candidates) {
      const reserved = await this.rateLimits.tryReserve(provider.id);
      if (!reserved.granted) {
        lastError = `provider ${provider.name} is at its ${reserved.refusedBy} limit`;
        if (reserved.notBefore && (!notBefore || reserved.notBefore < notBefore)) notBefore = reserved.notBefore;
        continue;
      }
      if (!this.leases.isHeld(lease)) {
        await this.rateLimits.release(reserved.reservation);
        this.logger.warn({ messageId: message.id }, 'lost the lease on a message before sending it; another worker has it');
        return;
      }
      if (previous) this.failedOver(message, previous, provider, lastError);
      const result = await this.attempt(message, provider);
      if (result.ok) {
        await this.conclude(lease, provider, reserved.reservation, result, () =>
          this.messages.markSent(lease, provider.id, result.delivered.rejected, false),
        );
        return;
      }
      const { failure } = result;
      if (failure.kind === 'message') {
        const error = `rejected by ${provider.name}: ${describeFailure(failure)}`;
        await this.conclude(lease, provider, reserved.reservation, result, () => this.messages.markFailed(lease, provider.id, error));
        return;
      }
      if (failure.kind === 'uncertain') {
        await this.conclude(lease, provider, reserved.reservation, result, () => this.afterUncertain(message, lease, provider, failure));
        return;
      }
      lastError = `${provider.name}: ${describeFailure(failure)}`;
      hint = failure.retryAfterSeconds ?? hint;
      previous = provider;
      awaitingProvider = true;
    }

    if (this.clock.now().getTime() - message.created_at.getTime() >= this.config.maxAgeSeconds * 1000) {
      await this.fenced(lease, () =>
        this.messages.markFailed(lease, null, `gave up after ${message.attempt_count} round(s): ${lastError}`),
      );
      return;
    }
    await this.fenced(lease, () =>
      this.messages.reschedule(lease, this.backoffFrom(message, notBefore, hint), lastError, {
        preferredProviderId: message.preferred_provider_id,
        awaitingProvider,
      }),
    );
  }

  /**
   * The provider may already have it: no failover now, the same Message-ID through the same
   * provider later — but only so many times. Past SEND_MAX_UNCERTAIN_ATTEMPTS hand-overs the
   * message fails: sending it again (anywhere) could only add copies.
   */
  private afterUncertain(message: MessageRow, lease: Lease, provider: SendingProvider, failure: ClassifiedFailure): Promise<boolean> {
    const handedOver = message.uncertain_count + 1;
    if (handedOver >= this.config.maxUncertainAttempts) {
      this.logger.warn(
        { messageId: message.id, providerId: provider.id, code: failure.code, handedOver },
        'outcome unknown after DATA too many times; not sending the message again',
      );
      return this.messages.markFailed(
        lease,
        provider.id,
        `outcome unknown ${handedOver} times (last through ${provider.name}: ${describeFailure(failure)}); ` +
          'not sent again to avoid more copies; it may have been delivered',
        { uncertain: true },
      );
    }
    this.logger.warn({ messageId: message.id, providerId: provider.id, code: failure.code }, 'outcome unknown after DATA; retrying later');
    return this.messages.reschedule(lease, this.backoffFrom(message, null), `outcome unknown: ${describeFailure(failure)}`, {
      preferredProviderId: provider.id,
      uncertain: true,
    });
  }

  /**
   * Writes an attempt's outcome under the claim's fence, then settles the limits reservation:
   * the send counts (accepted, or possibly accepted) only if the write won. A write that lost
   * means another claim owns the message now; that one's result is the one that counts.
   */
  async conclude(
    lease: Lease,
    provider: SendingProvider,
    reservation: Reservation,
    result: AttemptResult,
    write: () => Promise<boolean>,
  ): Promise<void> {
    const won = await this.fenced(lease, write, provider);
    const counts = won && (result.ok || result.failure.kind === 'uncertain');
    await this.untilDatabaseAnswers(() => (counts ? this.rateLimits.commit(reservation) : this.rateLimits.release(reservation)));
  }

  /**
   * Runs a fenced write; a rejected one is logged and counted, never silent. While the database
   * cannot be reached the write is tried again (the claim stays held, and this instance claims
   * nothing it holds): giving up would leave the message to be claimed and sent once more.
   */
  private async fenced(lease: Lease, write: () => Promise<boolean>, provider?: SendingProvider): Promise<boolean> {
    if (await this.untilDatabaseAnswers(write)) return true;
    this.logger.warn(
      { messageId: lease.id, leaseToken: lease.token, providerId: provider?.id },
      provider
        ? 'discarded the result of an attempt whose claim had been taken over; the message may go out twice'
        : 'discarded a retry decision whose claim had been taken over',
    );
    if (provider)
      await this.messages
        .recordStaleResult(provider.id, this.clock.now())
        .catch((err: unknown) => this.failures.error(err, 'could not count a stale result'));
    return false;
  }

  private async untilDatabaseAnswers<T>(work: () => Promise<T>): Promise<T> {
    const giveUpAt = performance.now() + FINAL_WRITE_PATIENCE_MS;
    for (let delay = 250; ; delay = Math.min(delay * 2, 1000)) {
      try {
        return await work();
      } catch (err) {
        if (!databaseUnavailability(err) || performance.now() > giveUpAt) throw err;
        this.failures.error(err, 'could not write a delivery result; trying again until the database answers');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** One attempt through one provider, recorded with its effect on the provider's health. */
  async attempt(message: MessageRow, provider: SendingProvider): Promise<AttemptResult> {
    const startedAt = this.clock.now();
    const t0 = performance.now();
    let result: AttemptResult;
    try {
      const transport = await this.transports.for(provider);
      const delivered = await transport.send(this.toMail(message, provider));
      result = { ok: true, delivered, ms: Math.round(performance.now() - t0) };
    } catch (err) {
      result = { ok: false, failure: failureOf(err), ms: Math.round(performance.now() - t0) };
    }
    // Bookkeeping must not stand between a send and its final write: a database that fails here
    // is retried there (see fenced()).
    try {
      // Passive health: the provider's own failures count against it, and so does an outcome left
      // unknown (a provider that keeps dropping after DATA is not working); a rejected message
      // still shows a working server.
      await this.health.recordSendOutcome(
        provider,
        !result.ok && result.failure.kind !== 'message',
        result.ok ? null : describeFailure(result.failure),
        startedAt,
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
    } catch (err) {
      this.failures.error(err, 'could not record an attempt', { messageId: message.id, providerId: provider.id });
    }
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
    void this.messages.recordFailover(from.id, to.id).catch((err: unknown) => this.failures.error(err, 'could not count a failover'));
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
