import { Inject, Injectable } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import { register, type Gauge } from 'prom-client';
import { CLOCK, type Clock } from '../rate-limit/clock.js';
import { METRIC } from './metric-definitions.js';
import { MetricsRepository } from './metrics.repository.js';

/** The exposition of one scrape: the gauges about the shared state are read from the database first. */
@Injectable()
export class MetricsScrape {
  constructor(
    private readonly repository: MetricsRepository,
    @Inject(CLOCK) private readonly clock: Clock,
    @InjectMetric(METRIC.queue) private readonly queue: Gauge,
    @InjectMetric(METRIC.oldestDue) private readonly oldestDue: Gauge,
    @InjectMetric(METRIC.providerUp) private readonly providerUp: Gauge,
    @InjectMetric(METRIC.usageRatio) private readonly usageRatio: Gauge,
    @InjectMetric(METRIC.webhookBacklog) private readonly webhookBacklog: Gauge,
  ) {}

  readonly contentType = register.contentType;

  /** Prometheus's text format. A database that does not answer fails the scrape (`up` 0) rather than report stale numbers. */
  async render(): Promise<string> {
    const now = this.clock.now();
    const [queue, providers] = await Promise.all([this.repository.queue(now), this.repository.providers(now)]);
    this.queue.set({ status: 'queued' }, queue.queued);
    this.queue.set({ status: 'scheduled' }, queue.scheduled);
    this.queue.set({ status: 'sending' }, queue.sending);
    this.oldestDue.set(queue.oldestDueSeconds);
    this.webhookBacklog.set(queue.webhookBacklog);
    // Deleted or deactivated providers, and unknown health, must disappear rather than keep an old value.
    this.providerUp.reset();
    this.usageRatio.reset();
    for (const p of providers) {
      const id = String(p.id);
      if (p.health !== 'unknown') this.providerUp.set({ provider_id: id, provider_type: p.type }, p.health === 'healthy' ? 1 : 0);
      if (p.dailyLimit) this.usageRatio.set({ provider_id: id, period: 'day' }, p.usedToday / p.dailyLimit);
      if (p.monthlyLimit) this.usageRatio.set({ provider_id: id, period: 'month' }, p.usedThisMonth / p.monthlyLimit);
    }
    return register.metrics();
  }
}
