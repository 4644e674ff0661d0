import { Injectable } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter, Histogram } from 'prom-client';
import type { LimitKind } from '../rate-limit/rate-limit.types.js';
import { METRIC } from './metric-definitions.js';

/** The outcome of one attempt, as `send_attempts.outcome` records it. */
export type AttemptOutcome = 'accepted' | 'message_rejected' | 'provider_failure' | 'uncertain';
/** A limit as the metrics name it: SES's own quotas (per second, per 24 hours) are `quota`. */
export type LimitLabel = 'minute' | 'day' | 'month' | 'quota';
export type CheckOutcomeLabel = 'healthy' | 'unhealthy' | 'error';
export type WebhookOutcomeLabel = 'delivered' | 'retrying' | 'failed' | 'disabled';

/** SES's own quotas (per second, per rolling 24 hours) are one label: the account's quota, not a limit set here. */
export function limitLabel(kind: LimitKind): LimitLabel {
  return kind === 'ses_rate' || kind === 'ses_24h' ? 'quota' : kind;
}

/** What labelled children offer; each is looked up once per label set and kept. */
interface CounterChild {
  inc(value?: number): void;
}
interface HistogramChild {
  observe(value: number): void;
}

/**
 * What the rest of the service records, in domain words. Counters are this instance's own
 * (Prometheus sums them over instances); gauges about the shared state are read from the
 * database at scrape time (MetricsScrape). Label children are cached, so recording on the
 * delivery path is a map lookup and an addition.
 */
@Injectable()
export class MetricsService {
  private readonly counters = new Map<string, CounterChild>();
  private readonly histograms = new Map<string, HistogramChild>();

  constructor(
    @InjectMetric(METRIC.accepted) private readonly acceptedTotal: Counter,
    @InjectMetric(METRIC.attempts) private readonly attempts: Counter,
    @InjectMetric(METRIC.finished) private readonly finishedTotal: Counter,
    @InjectMetric(METRIC.deliveryLatency) private readonly latency: Histogram,
    @InjectMetric(METRIC.attemptDuration) private readonly attemptDuration: Histogram,
    @InjectMetric(METRIC.failovers) private readonly failovers: Counter,
    @InjectMetric(METRIC.rateLimited) private readonly rateLimitedTotal: Counter,
    @InjectMetric(METRIC.healthChecks) private readonly healthChecks: Counter,
    @InjectMetric(METRIC.webhookDeliveries) private readonly webhookDeliveries: Counter,
    @InjectMetric(METRIC.httpRequests) private readonly httpRequests: Counter,
    @InjectMetric(METRIC.httpDuration) private readonly httpDuration: Histogram,
  ) {
    // Both series exist from the start, so that a rate over them (failed / all) is defined before the first failure.
    for (const status of ['sent', 'failed'] as const) this.counter(`f|${status}`, () => this.finishedTotal.labels(status)).inc(0);
  }

  /** Messages stored by the send routes. */
  accepted(count = 1): void {
    if (count > 0) this.acceptedTotal.inc(count);
  }

  attempted(providerId: number, providerType: string, outcome: AttemptOutcome, seconds: number): void {
    this.counter(`a|${providerId}|${providerType}|${outcome}`, () => this.attempts.labels(String(providerId), providerType, outcome)).inc();
    this.histogram(`d|${providerId}`, () => this.attemptDuration.labels(String(providerId))).observe(seconds);
  }

  /** A message's final status, written by this instance; `latencySeconds` for a sent one. */
  finished(status: 'sent' | 'failed', latencySeconds?: number): void {
    this.counter(`f|${status}`, () => this.finishedTotal.labels(status)).inc();
    if (status === 'sent' && latencySeconds !== undefined) this.latency.observe(Math.max(0, latencySeconds));
  }

  failedOver(fromProviderId: number, toProviderId: number): void {
    this.counter(`o|${fromProviderId}|${toProviderId}`, () => this.failovers.labels(String(fromProviderId), String(toProviderId))).inc();
  }

  rateLimited(providerId: number, limit: LimitLabel): void {
    this.counter(`r|${providerId}|${limit}`, () => this.rateLimitedTotal.labels(String(providerId), limit)).inc();
  }

  healthChecked(providerId: number, outcome: CheckOutcomeLabel): void {
    this.counter(`h|${providerId}|${outcome}`, () => this.healthChecks.labels(String(providerId), outcome)).inc();
  }

  /** One attempt to deliver a webhook event. */
  webhookDelivery(outcome: WebhookOutcomeLabel): void {
    this.counter(`w|${outcome}`, () => this.webhookDeliveries.labels(outcome)).inc();
  }

  /** `route` is a template (`/api/email-provider/providers/:id`) or `unmatched`, never the raw URL. */
  httpRequest(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${route} ${status}`;
    this.counter(`q|${key}`, () => this.httpRequests.labels(method, route, String(status))).inc();
    this.histogram(`t|${key}`, () => this.httpDuration.labels(method, route, String(status))).observe(seconds);
  }

  private counter(key: string, make: () => CounterChild): CounterChild {
    let child = this.counters.get(key);
    if (!child) this.counters.set(key, (child = make()));
    return child;
  }

  private histogram(key: string, make: () => HistogramChild): HistogramChild {
    let child = this.histograms.get(key);
    if (!child) this.histograms.set(key, (child = make()));
    return child;
  }
}
