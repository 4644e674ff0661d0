import { describe, expect, it } from '@jest/globals';
import { Counter, Histogram, Registry } from 'prom-client';
import { limitLabel, MetricsService } from './metrics.service.js';

function service(): { metrics: MetricsService; registry: Registry } {
  const registry = new Registry();
  const counter = (name: string, labelNames: string[] = []) => new Counter({ name, help: name, labelNames, registers: [registry] });
  const histogram = (name: string, labelNames: string[] = []) => new Histogram({ name, help: name, labelNames, registers: [registry] });
  const metrics = new MetricsService(
    counter('accepted'),
    counter('attempts', ['provider_id', 'provider_type', 'outcome']),
    counter('finished', ['status']),
    histogram('latency'),
    histogram('attempt_duration', ['provider_id']),
    counter('failovers', ['from_provider_id', 'to_provider_id']),
    counter('rate_limited', ['provider_id', 'limit']),
    counter('health_checks', ['provider_id', 'outcome']),
    counter('webhook_deliveries', ['outcome']),
    counter('http_requests', ['method', 'route', 'status']),
    histogram('http_duration', ['method', 'route', 'status']),
  );
  return { metrics, registry };
}

async function values(registry: Registry, name: string): Promise<{ labels: object; value: number; metricName?: string }[]> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  return (await metric.get()).values.map((v) => ({
    labels: { ...v.labels },
    value: v.value,
    metricName: (v as { metricName?: string }).metricName,
  }));
}

describe(MetricsService.name, () => {
  it('should count attempts per provider, type and outcome, and time each under its provider', async () => {
    const { metrics, registry } = service();
    metrics.attempted(1, 'smtp', 'accepted', 0.2);
    metrics.attempted(1, 'smtp', 'accepted', 0.3);
    metrics.attempted(2, 'aws_ses', 'provider_failure', 1.5);
    expect(await values(registry, 'attempts')).toEqual([
      { labels: { provider_id: '1', provider_type: 'smtp', outcome: 'accepted' }, value: 2, metricName: undefined },
      { labels: { provider_id: '2', provider_type: 'aws_ses', outcome: 'provider_failure' }, value: 1, metricName: undefined },
    ]);
    const durations = await values(registry, 'attempt_duration');
    expect(
      durations.find((v) => v.metricName === 'attempt_duration_sum' && (v.labels as { provider_id: string }).provider_id === '1')?.value,
    ).toBeCloseTo(0.5);
  });

  it('should observe the delivery latency of sent messages only', async () => {
    const { metrics, registry } = service();
    metrics.finished('sent', 2);
    metrics.finished('failed');
    metrics.finished('sent', -1);
    expect((await values(registry, 'finished')).map((v) => [v.labels, v.value])).toEqual([
      [{ status: 'sent' }, 2],
      [{ status: 'failed' }, 1],
    ]);
    const latency = await values(registry, 'latency');
    expect(latency.find((v) => v.metricName === 'latency_count')?.value).toBe(2);
    // A clock step backwards is not a negative latency.
    expect(latency.find((v) => v.metricName === 'latency_sum')?.value).toBe(2);
  });

  it('should add batches to the accepted count and ignore an empty one', async () => {
    const { metrics, registry } = service();
    metrics.accepted();
    metrics.accepted(3);
    metrics.accepted(0);
    expect((await values(registry, 'accepted'))[0].value).toBe(4);
  });

  it('should count failovers, refusals, checks and HTTP answers under their own labels', async () => {
    const { metrics, registry } = service();
    metrics.failedOver(1, 2);
    metrics.rateLimited(1, 'day');
    metrics.healthChecked(3, 'error');
    metrics.httpRequest('GET', '/api/email-provider/providers/:id', 200, 0.01);
    expect((await values(registry, 'failovers'))[0]).toMatchObject({ labels: { from_provider_id: '1', to_provider_id: '2' }, value: 1 });
    expect((await values(registry, 'rate_limited'))[0]).toMatchObject({ labels: { provider_id: '1', limit: 'day' }, value: 1 });
    expect((await values(registry, 'health_checks'))[0]).toMatchObject({ labels: { provider_id: '3', outcome: 'error' }, value: 1 });
    expect((await values(registry, 'http_requests'))[0]).toMatchObject({
      labels: { method: 'GET', route: '/api/email-provider/providers/:id', status: '200' },
      value: 1,
    });
  });
});

describe(limitLabel.name, () => {
  it.each([
    ['minute', 'minute'],
    ['day', 'day'],
    ['month', 'month'],
    ['ses_rate', 'quota'],
    ['ses_24h', 'quota'],
  ] as const)('should name the %s limit %s', (kind, label) => {
    expect(limitLabel(kind)).toBe(label);
  });
});
