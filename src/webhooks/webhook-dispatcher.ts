import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { LogThrottle } from '../common/logging/log-throttle.js';
import { AppConfig, type WebhooksConfig } from '../config/app-config.js';
import { CredentialsService } from '../credentials/credentials.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { OutboundPolicy } from '../outbound/outbound-policy.js';
import { CLOCK, type Clock } from '../rate-limit/clock.js';
import { nextAttemptAt } from './retry-schedule.js';
import { WebhookSender, type PostResult } from './webhook-sender.js';
import { signedHeaders } from './webhook-signing.js';
import { WebhooksRepository, type ClaimedDelivery, type DeliveryOutcome } from './webhooks.repository.js';

/** What one attempt came to, for the test route. */
export interface AttemptReport {
  outcome: DeliveryOutcome | null;
  ms: number;
}

/** How long an in-flight delivery stays ours beyond its timeout before another dispatcher may take it over. */
const LEASE_MARGIN_SECONDS = 30;

/**
 * Delivers webhook events from the outbox, in every instance (WEBHOOKS_ENABLED): claims due
 * deliveries with SKIP LOCKED under a lease, POSTs each event signed by the Standard Webhooks
 * scheme, and writes the outcome fenced by the claim's lease token. A 2xx is delivered; anything
 * else is tried again on the retry schedule and given up when it is spent; a 410 Gone turns the
 * endpoint off. Its own loop and slots: a slow or dead receiver never holds up sending.
 */
@Injectable()
export class WebhookDispatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WebhookDispatcher.name);
  private readonly failures: LogThrottle;
  // A dead receiver fails every attempt alike: one line per interval and error, with a count.
  private readonly retries: LogThrottle;
  private readonly config: WebhooksConfig;
  private readonly sender: WebhookSender;
  readonly owner = `${os.hostname()}:${process.pid}:webhooks:${randomUUID().slice(0, 8)}`;
  private readonly inFlight = new Set<Promise<unknown>>();
  private running = false;
  private loop: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;

  constructor(
    private readonly repository: WebhooksRepository,
    private readonly credentials: CredentialsService,
    private readonly metrics: MetricsService,
    policy: OutboundPolicy,
    @Inject(CLOCK) private readonly clock: Clock,
    config: AppConfig,
  ) {
    this.config = config.webhooks;
    this.failures = new LogThrottle(this.logger, config.logRepeatIntervalMs);
    this.retries = new LogThrottle({ error: (fields, message) => this.logger.warn(fields, message) }, config.logRepeatIntervalMs);
    this.sender = new WebhookSender(policy, this.config.timeoutMs);
  }

  onApplicationBootstrap(): void {
    if (!this.config.enabled) return;
    this.running = true;
    this.loop = this.run();
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wakeUp?.();
    await this.loop;
    // An unfinished delivery is taken over once its lease runs out; the receiver may see it twice.
    const grace = new Promise((resolve) => setTimeout(resolve, Math.min(this.config.timeoutMs, 10_000)).unref());
    await Promise.race([Promise.all(this.inFlight), grace]);
  }

  /** Delivers this one delivery now, if it is due and nobody holds it; answers what the attempt came to. */
  async deliverNow(deliveryId: string): Promise<AttemptReport> {
    const [claimed] = await this.repository.claim(this.owner, 1, this.clock.now(), this.leaseSeconds, deliveryId);
    if (!claimed) return { outcome: null, ms: 0 };
    return this.deliver(claimed);
  }

  private get leaseSeconds(): number {
    return Math.ceil(this.config.timeoutMs / 1000) + LEASE_MARGIN_SECONDS;
  }

  private async run(): Promise<void> {
    while (this.running) {
      const free = this.config.concurrency - this.inFlight.size;
      let claimed = 0;
      if (free > 0) {
        try {
          const deliveries = await this.repository.claim(this.owner, free, this.clock.now(), this.leaseSeconds);
          claimed = deliveries.length;
          for (const d of deliveries) this.track(this.deliver(d));
        } catch (err) {
          this.failures.error(err, 'claiming webhook deliveries failed; retrying after the poll interval');
        }
      }
      if (claimed === 0 || claimed === free) await this.sleep();
    }
  }

  private track(work: Promise<unknown>): void {
    const p: Promise<unknown> = work
      .catch((err: unknown) => this.failures.error(err, 'a webhook delivery failed unexpectedly; it is taken over when its lease expires'))
      .finally(() => {
        this.inFlight.delete(p);
        this.wakeUp?.();
      });
    this.inFlight.add(p);
  }

  private sleep(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.config.pollIntervalMs);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wakeUp = null;
        resolve();
      }
      this.wakeUp = done;
    });
  }

  private async deliver(d: ClaimedDelivery): Promise<AttemptReport> {
    const started = performance.now();
    const now = this.clock.now();
    const body = JSON.stringify({ type: d.event_type, timestamp: new Date(d.event_created_at).toISOString(), data: d.event_data });
    const result: PostResult = await this.sender.post(d.url, signedHeaders(`evt_${d.event_id}`, now, body, this.secretsOf(d, now)), body);
    const ms = performance.now() - started;
    const outcome = this.outcomeOf(d, result);
    const written = await this.repository.finish(d.id, d.lease_token as string, outcome, this.clock.now());
    if (!written) {
      this.logger.warn({ deliveryId: d.id, webhookId: d.webhook_id }, 'a webhook delivery was taken over before its outcome was written');
      return { outcome, ms };
    }
    this.record(d, outcome);
    return { outcome, ms };
  }

  /** The current secret, and the previous one while a rotation's overlap lasts. */
  private secretsOf(d: ClaimedDelivery, now: Date): string[] {
    const secrets = [this.credentials.open(d.secret_encrypted)];
    if (d.previous_secret_encrypted && d.previous_secret_expires_at && new Date(d.previous_secret_expires_at) > now)
      secrets.push(this.credentials.open(d.previous_secret_encrypted));
    return secrets;
  }

  private outcomeOf(d: ClaimedDelivery, result: PostResult): DeliveryOutcome {
    const statusCode = 'statusCode' in result ? result.statusCode : null;
    if (statusCode !== null && statusCode >= 200 && statusCode < 300) return { status: 'delivered', statusCode };
    if (statusCode === 410)
      return {
        status: 'failed',
        statusCode,
        error: 'The receiver answered 410 Gone.',
        disableWebhook: `The receiver answered 410 Gone to a delivery at ${this.clock.now().toISOString()}: the endpoint was turned off.`,
      };
    const error = 'error' in result ? result.error : `The receiver answered ${statusCode}.`;
    const retryAt = nextAttemptAt(d.attempts, this.config.retryDelaysSeconds, this.clock.now());
    return retryAt ? { status: 'pending', statusCode, error, retryAt } : { status: 'failed', statusCode, error };
  }

  private record(d: ClaimedDelivery, outcome: DeliveryOutcome): void {
    const context = { deliveryId: d.id, webhookId: d.webhook_id, eventType: d.event_type, attempt: d.attempts };
    if (outcome.status === 'delivered') {
      this.metrics.webhookDelivery('delivered');
      this.logger.debug(context, 'webhook event delivered');
    } else if (outcome.status === 'pending') {
      this.metrics.webhookDelivery('retrying');
      this.retries.error(new Error(outcome.error), `webhook delivery to endpoint ${d.webhook_id} failed; it will be retried`, context);
    } else if (outcome.disableWebhook) {
      this.metrics.webhookDelivery('disabled');
      this.logger.warn(context, 'the receiver answered 410 Gone: the webhook endpoint is turned off');
    } else {
      this.metrics.webhookDelivery('failed');
      this.logger.warn({ ...context, error: outcome.error }, 'webhook delivery given up after its last attempt');
    }
  }
}
