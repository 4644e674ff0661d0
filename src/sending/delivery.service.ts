import { LogThrottle } from '../common/logging/log-throttle.js';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { AppConfig, type SendingConfig } from '../config/app-config.js';
import { ProviderHealthService } from '../health/provider-health.service.js';
import { SendingOrderCache } from '../providers/sending-order.cache.js';
import type { SendingProvider } from '../providers/sending-provider.js';
import { CLOCK, type Clock } from '../rate-limit/clock.js';
import { RateLimitService } from '../rate-limit/rate-limit.service.js';
import { limitLabel, MetricsService, type AttemptOutcome } from '../metrics/metrics.service.js';
import { LeaseKeeper } from './lease-keeper.js';
import { leaseOf, type Finish, type Lease, type MessageRow, type NewAttempt } from './message.types.js';
import { MessagesRepository } from './messages.repository.js';
import { OutcomeWriter, type Outcome } from './outcome-writer.js';
import type { Delivered, OutgoingMail } from '../provider-types/mail-transport.js';
import { describeFailure, failureOf, type ClassifiedFailure } from '../provider-types/send-failure.js';
import { TransportCache } from './transport-cache.js';

/** How one attempt through one provider ended. */
export type AttemptResult = { ok: true; delivered: Delivered; ms: number } | { ok: false; failure: ClassifiedFailure; ms: number };

/** An attempt's result, and its row for `send_attempts`. */
export interface Attempted {
  result: AttemptResult;
  record: NewAttempt;
}

/**
 * Takes one claimed message to a provider, or back to the queue, or to a recorded failure.
 * Candidates: the pinned provider alone; else the one an uncertain attempt used, then the
 * default, then priority 1, 2, 3 — skipping inactive, unhealthy and rate-limited ones.
 *
 * Each message reads as one path, but what it asks of the database is batched underneath: the
 * sending order comes from memory (as recent as the claim), reservations for one provider are
 * decided together (RateLimitService.reserve), sends share the provider's pooled connections,
 * and outcomes are written many to a transaction (OutcomeWriter).
 */
@Injectable()
export class DeliveryService {
  private readonly logger = new Logger(DeliveryService.name);
  private readonly config: SendingConfig;
  private readonly probeCooldownMs: number;
  private readonly failures: LogThrottle;

  constructor(
    private readonly messages: MessagesRepository,
    private readonly sendingOrder: SendingOrderCache,
    private readonly rateLimits: RateLimitService,
    private readonly outcomes: OutcomeWriter,
    private readonly transports: TransportCache,
    private readonly health: ProviderHealthService,
    private readonly leases: LeaseKeeper,
    private readonly metrics: MetricsService,
    @Inject(CLOCK) private readonly clock: Clock,
    config: AppConfig,
  ) {
    this.config = config.sending;
    this.probeCooldownMs = config.health.probeCooldownSeconds * 1000;
    this.failures = new LogThrottle(this.logger, config.logRepeatIntervalMs);
  }

  /**
   * Takes a message this worker has just claimed (with the `providers_version` its claim read);
   * its lease is kept alive until the result is written.
   */
  async deliver(message: MessageRow, providersVersion: string): Promise<void> {
    const lease = leaseOf(message);
    this.leases.hold(lease);
    try {
      await this.deliverHeld(message, lease, providersVersion);
    } finally {
      this.leases.drop(lease);
    }
  }

  private async deliverHeld(message: MessageRow, lease: Lease, providersVersion: string): Promise<void> {
    const candidates = await this.candidates(message, providersVersion);
    const reservations: Outcome['reservations'] = [];
    const attempts: NewAttempt[] = [];
    const finish = async (f: Finish, providerId: number | null) => {
      // Counted once the final write won: a lost claim's result is not this instance's to count.
      if ((await this.outcomes.write({ lease, finish: f, reservations, attempts, providerId })) && f.status !== 'queued')
        this.metrics.finished(f.status, f.status === 'sent' ? this.latencyOf(message) : undefined);
    };
    let lastError: string | null = candidates.length ? null : 'no active provider can take the message now';
    let notBefore: Date | null = null;
    let hint: number | null = null;
    let previous: SendingProvider | null = null;
    // Whether a provider's trouble (not a limit) kept the message: it moves forward when one recovers.
    let awaitingProvider = candidates.length === 0;

    for (const provider of candidates) {
      const reserved = await this.rateLimits.reserve(provider.id);
      if (!reserved.granted) {
        lastError = `provider ${provider.name} is at its ${reserved.refusedBy} limit`;
        if (reserved.refusedBy !== 'missing') this.metrics.rateLimited(provider.id, limitLabel(reserved.refusedBy));
        if (reserved.notBefore && (!notBefore || reserved.notBefore < notBefore)) notBefore = reserved.notBefore;
        continue;
      }
      if (!this.leases.isHeld(lease)) {
        reservations.push({ reservation: reserved.reservation, counts: false });
        await this.abandon(message, reservations, attempts);
        return;
      }
      if (previous) this.failedOver(message, previous, provider, lastError);
      const { result, record } = await this.attempt(message, provider);
      attempts.push(record);
      // The provider took the message (or may have): the send counts, if this claim's write wins.
      reservations.push({ reservation: reserved.reservation, counts: result.ok || result.failure.kind === 'uncertain' });
      if (result.ok) {
        await finish({ status: 'sent', providerId: provider.id, rejected: result.delivered.rejected }, provider.id);
        return;
      }
      const { failure } = result;
      if (failure.kind === 'message') {
        await finish(
          { status: 'failed', providerId: provider.id, error: `rejected by ${provider.name}: ${describeFailure(failure)}` },
          provider.id,
        );
        return;
      }
      if (failure.kind === 'uncertain') {
        await finish(this.afterUncertain(message, provider, failure), provider.id);
        return;
      }
      lastError = `${provider.name}: ${describeFailure(failure)}`;
      hint = failure.retryAfterSeconds ?? hint;
      previous = provider;
      awaitingProvider = true;
    }

    if (this.clock.now().getTime() - message.created_at.getTime() >= this.config.maxAgeSeconds * 1000) {
      await finish({ status: 'failed', providerId: null, error: `gave up after ${message.attempt_count} round(s): ${lastError}` }, null);
      return;
    }
    await finish(
      {
        status: 'queued',
        at: this.backoffFrom(message, notBefore, hint),
        error: lastError,
        preferredProviderId: message.preferred_provider_id,
        awaitingProvider,
      },
      null,
    );
  }

  /** The claim was lost before a send: nothing is written to the message; what was taken is given back. */
  private async abandon(message: MessageRow, reservations: Outcome['reservations'], attempts: NewAttempt[]): Promise<void> {
    this.logger.warn({ messageId: message.id }, 'lost the lease on a message before sending it; another worker has it');
    await this.rateLimits.settle(reservations.map((r) => ({ reservation: r.reservation, accepted: false })));
    await this.messages
      .recordAttempts(attempts)
      .catch((err: unknown) => this.failures.error(err, 'could not record attempts', { messageId: message.id }));
  }

  /**
   * The provider may already have it: no failover now, the same Message-ID through the same
   * provider later — but only so many times. Past SEND_MAX_UNCERTAIN_ATTEMPTS hand-overs the
   * message fails: sending it again (anywhere) could only add copies.
   */
  private afterUncertain(message: MessageRow, provider: SendingProvider, failure: ClassifiedFailure): Finish {
    const handedOver = message.uncertain_count + 1;
    if (handedOver >= this.config.maxUncertainAttempts) {
      this.logger.warn(
        { messageId: message.id, providerId: provider.id, code: failure.code, handedOver },
        'outcome unknown after DATA too many times; not sending the message again',
      );
      return {
        status: 'failed',
        providerId: provider.id,
        error:
          `outcome unknown ${handedOver} times (last through ${provider.name}: ${describeFailure(failure)}); ` +
          'not sent again to avoid more copies; it may have been delivered',
        uncertain: true,
      };
    }
    this.logger.warn({ messageId: message.id, providerId: provider.id, code: failure.code }, 'outcome unknown after DATA; retrying later');
    return {
      status: 'queued',
      at: this.backoffFrom(message, null),
      error: `outcome unknown: ${describeFailure(failure)}`,
      preferredProviderId: provider.id,
      uncertain: true,
    };
  }

  /** One attempt through one provider, with its effect on the provider's health; the attempt's row is the caller's to write. */
  async attempt(message: MessageRow, provider: SendingProvider): Promise<Attempted> {
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
    // Bookkeeping must not stand between a send and its final write.
    try {
      // Passive health: the provider's own failures count against it, and so does an outcome left
      // unknown (a provider that keeps dropping after DATA is not working); a rejected message
      // still shows a working server. Written only when it changes something.
      await this.health.recordSendOutcome(
        provider,
        !result.ok && result.failure.kind !== 'message',
        result.ok ? null : describeFailure(result.failure),
        startedAt,
      );
    } catch (err) {
      this.failures.error(err, 'could not record a send outcome on the provider', { messageId: message.id, providerId: provider.id });
    }
    const outcome: AttemptOutcome = result.ok
      ? 'accepted'
      : result.failure.kind === 'message'
        ? 'message_rejected'
        : result.failure.kind === 'uncertain'
          ? 'uncertain'
          : 'provider_failure';
    this.metrics.attempted(provider.id, provider.providerType, outcome, result.ms / 1000);
    const record: NewAttempt = {
      message_id: message.id,
      provider_id: provider.id,
      started_at: startedAt,
      response_time_ms: result.ms,
      outcome,
      smtp_code: result.ok ? null : result.failure.responseCode,
      smtp_reply: result.ok ? result.delivered.reply : result.failure.reply,
      error_code: result.ok ? null : result.failure.code,
      rejected_recipients: result.ok ? result.delivered.rejected : [],
      provider_message_id: result.ok ? (result.delivered.providerMessageId ?? null) : null,
    };
    return { result, record };
  }

  private async candidates(message: MessageRow, providersVersion: string): Promise<SendingProvider[]> {
    if (message.pinned_provider_id !== null) {
      const pinned = await this.sendingOrder.one(providersVersion, message.pinned_provider_id);
      // A pinned provider is tried even when unhealthy: the caller chose it.
      return pinned?.isActive ? [pinned] : [];
    }
    const active = (await this.sendingOrder.at(providersVersion)).filter((p) => p.isActive);
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
    this.metrics.failedOver(from.id, to.id);
    void this.messages
      .recordFailover(from.id, to.id, message, reason)
      .catch((err: unknown) => this.failures.error(err, 'could not count a failover'));
  }

  /** Seconds from when the message was due (accepted, or its send_at) until now, when a provider took it. */
  private latencyOf(message: MessageRow): number {
    const due = message.send_at && message.send_at > message.created_at ? message.send_at : message.created_at;
    return (this.clock.now().getTime() - due.getTime()) / 1000;
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
