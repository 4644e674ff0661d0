import { Injectable, Logger } from '@nestjs/common';
import type { X509Certificate } from 'node:crypto';
import { AppError, ErrorCode } from '../common/errors/app-error.js';
import { AppConfig } from '../config/app-config.js';
import { ProvidersService } from '../providers/providers.service.js';
import { parseSesFeedback, type SesFeedback } from './ses-feedback.js';
import { SesNotificationsRepository, type FeedbackRow } from './ses-notifications.repository.js';
import { SnsCertificates } from './sns-certificates.js';
import { parseSnsEnvelope, type SnsEnvelope } from './sns-envelope.js';
import { SnsFetchError, SnsHttpsClient } from './sns-https.client.js';
import { SIGNATURE_ALGORITHMS, signatureValid } from './sns-signature.js';
import { snsCertificateUrl, snsSubscribeUrl } from './sns-url.js';

/** What SNS gets back: every message we accept (recorded, ignored or unknown) is a 200, or SNS retries it. */
export type SnsOutcome = 'confirmed' | 'recorded' | 'duplicate' | 'unknown_message' | 'ignored';

const forbidden = (detail: string) => new AppError(ErrorCode.PermissionDenied, detail);

/**
 * Amazon SNS HTTP(S) deliveries for an SES provider's configuration set: authenticated by SNS's
 * signature alone (the route takes no bearer token), then a subscription is confirmed, or a
 * bounce, complaint or delivery is recorded on the message SES sent.
 */
@Injectable()
export class SesNotificationsService {
  private readonly logger = new Logger(SesNotificationsService.name);
  private readonly hostPattern: RegExp;

  constructor(
    private readonly repository: SesNotificationsRepository,
    private readonly providers: ProvidersService,
    private readonly certificates: SnsCertificates,
    private readonly http: SnsHttpsClient,
    config: AppConfig,
  ) {
    this.hostPattern = config.sesNotifications.certHostPattern;
  }

  /**
   * The signature is checked before anything about the provider is looked at, so an unsigned
   * request learns nothing about which providers exist. 403 for anything not signed by SNS,
   * 404 for a provider that is not a live aws_ses one.
   */
  async receive(providerId: number, body: unknown): Promise<SnsOutcome> {
    const message = await this.verified(body);
    // Checked before the topic can be kept, so that a refused confirmation changes nothing.
    const subscribeUrl = message.Type === 'SubscriptionConfirmation' ? snsSubscribeUrl(message.SubscribeURL, this.hostPattern) : null;
    if (message.Type === 'SubscriptionConfirmation' && !subscribeUrl) throw forbidden('SubscribeURL is not an Amazon SNS URL.');
    const accepted = await this.providers.acceptsSesTopic(providerId, message.TopicArn);
    if (accepted === null) throw AppError.notFound();
    // SNS signs for every AWS account: the signature alone does not make a topic this provider's.
    if (!accepted) throw forbidden("TopicArn is not this provider's SNS topic.");
    const context = { providerId, snsMessageId: message.MessageId, topicArn: message.TopicArn };
    switch (message.Type) {
      case 'SubscriptionConfirmation':
        await this.confirm(subscribeUrl as URL, message);
        this.logger.log(context, 'SNS subscription confirmed');
        return 'confirmed';
      case 'UnsubscribeConfirmation':
        this.logger.log(context, 'SNS subscription ended; nothing done');
        return 'ignored';
      case 'Notification':
        return this.record(providerId, message, context);
    }
  }

  /** A message's reports for GET /messages/{id}/, oldest first. */
  feedbackOf(messageId: string): Promise<FeedbackRow[]> {
    return this.repository.feedbackOf(messageId);
  }

  private async record(providerId: number, message: SnsEnvelope, context: Record<string, unknown>): Promise<SnsOutcome> {
    const feedback = parseSesFeedback(message.Message, new Date(Date.parse(message.Timestamp) || Date.now()));
    if (!feedback) {
      this.logger.log(context, 'SNS notification is no SES bounce, complaint or delivery; ignored');
      return 'ignored';
    }
    const done = await this.repository.record(providerId, message.MessageId, feedback, eventData(feedback));
    const logged = { ...context, sesMessageId: feedback.sesMessageId, type: feedback.type, messageId: done.messageId };
    if (!done.messageId) {
      this.logger.log(logged, 'SES feedback names no message sent through this provider; not recorded');
      return 'unknown_message';
    }
    if (!done.recorded) {
      this.logger.log(logged, 'SES feedback already recorded (SNS delivered it again)');
      return 'duplicate';
    }
    this.logger.log({ ...logged, suppressed: done.suppressed }, 'SES feedback recorded');
    return 'recorded';
  }

  private async verified(body: unknown): Promise<SnsEnvelope> {
    const message = parseSnsEnvelope(body);
    if (typeof message === 'string') throw forbidden(message);
    if (!SIGNATURE_ALGORITHMS[message.SignatureVersion]) throw forbidden('Unsupported SNS SignatureVersion.');
    const url = snsCertificateUrl(message.SigningCertURL, this.hostPattern);
    if (!url) throw forbidden('SigningCertURL is not an Amazon SNS certificate URL.');
    const certificate = await this.certificate(url);
    if (!signatureValid(message, certificate)) throw forbidden('Invalid SNS message signature.');
    return message;
  }

  private async certificate(url: URL): Promise<X509Certificate> {
    try {
      return await this.certificates.get(url);
    } catch (err) {
      return this.fetchFailed(err, 'The SNS signing certificate could not be fetched.', { certificateUrl: url.href });
    }
  }

  /** GET of the SubscribeURL, already checked to be on SNS's own host. */
  private async confirm(url: URL, message: SnsEnvelope): Promise<void> {
    try {
      await this.http.get(url, 64 * 1024);
    } catch (err) {
      this.fetchFailed(err, 'The SNS subscription could not be confirmed.', { topicArn: message.TopicArn });
    }
  }

  /** SNS refusing (a wrong path, not a certificate) is the message's fault: 403; SNS out of reach is ours: 503, retried. */
  private fetchFailed(err: unknown, detail: string, context: Record<string, unknown>): never {
    const unreachable = err instanceof SnsFetchError && err.kind === 'unreachable';
    this.logger.warn({ ...context, reason: err instanceof Error ? err.message : String(err) }, detail);
    if (unreachable)
      throw new AppError(ErrorCode.ServiceUnavailable, `${detail} Try again later.`, undefined, { headers: { 'Retry-After': '60' } });
    throw forbidden(detail);
  }
}

/** The event's own fields; the repository adds the message's id, Message-ID and provider. */
function eventData(f: SesFeedback): Record<string, unknown> {
  if (f.type === 'bounce') {
    const str = (v: unknown) => (typeof v === 'string' ? v : null);
    return {
      bounce_type: str(f.detail.bounceType),
      bounce_subtype: str(f.detail.bounceSubType),
      recipients: f.recipients.map((r) => ({ address: r.address, status: r.status ?? null, diagnostic_code: r.diagnostic_code ?? null })),
    };
  }
  if (f.type === 'complaint') return { recipients: f.recipients.map((r) => ({ address: r.address })), complaint_feedback_type: f.subtype };
  return { recipients: f.recipients.map((r) => ({ address: r.address })) };
}
