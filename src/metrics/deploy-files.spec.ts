import type { FactoryProvider } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { collectDefaultMetrics, register } from 'prom-client';
import { DEFAULT_METRICS_PREFIX, metricProviders } from './metric-definitions.js';

const root = path.join(import.meta.dirname, '..', '..');
const ALERTS = path.join(root, 'deploy', 'prometheus', 'alerts.yml');
const ALERT_TESTS = path.join(root, 'deploy', 'prometheus', 'alerts.test.yml');
const DASHBOARD = path.join(root, 'deploy', 'grafana', 'dashboard.json');
const METRIC_NAME = /\bemail_[a-zA-Z0-9_:]+/g;

/** Every series name the service exposes: its own metrics and Node's defaults, as MetricsModule registers them. */
async function exposedNames(): Promise<Set<string>> {
  // Each provider's factory registers its metric, as Nest does when MetricsModule starts.
  for (const provider of metricProviders) (provider as FactoryProvider).useFactory(undefined);
  collectDefaultMetrics({ prefix: DEFAULT_METRICS_PREFIX });
  const names = new Set<string>();
  for (const m of await register.getMetricsAsJSON()) {
    names.add(m.name);
    const type = String(m.type);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(m.name + suffix);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(m.name + suffix);
  }
  return names;
}

function promtool(args: string[]): { status: number | null; output: string } {
  const run = spawnSync('promtool', args, { cwd: path.dirname(ALERTS), encoding: 'utf8' });
  if ((run.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
    throw new Error("promtool is not installed: it comes with Debian's `prometheus` package (apt-get install prometheus)");
  if (run.error) throw run.error;
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

interface Panel {
  type: string;
  id: number;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: { expr: string; datasource?: { uid: string } }[];
}

describe('deploy/ (Prometheus alert rules and the Grafana dashboard)', () => {
  let exposed: Set<string>;

  beforeAll(async () => {
    exposed = await exposedNames();
  });
  afterAll(() => {
    register.clear();
  });

  it('should pass promtool check rules', () => {
    const { status, output } = promtool(['check', 'rules', ALERTS]);
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
  });

  it('should fire each alert when, and only when, its unit tests say (promtool test rules)', () => {
    const { status, output } = promtool(['test', 'rules', ALERT_TESTS]);
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
  });

  it('should reference in the alert rules only metrics the service exposes', () => {
    const used = readFileSync(ALERTS, 'utf8').match(METRIC_NAME) ?? [];
    expect(used.length).toBeGreaterThan(5);
    expect(used.filter((name) => !exposed.has(name))).toEqual([]);
  });

  describe('the Grafana dashboard', () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
      uid: string;
      title: string;
      panels: Panel[];
      templating: { list: { name: string; type: string; query: unknown }[] };
    };
    const panels = dashboard.panels.filter((p) => p.type !== 'row');

    it('should ask for a Prometheus data source and use it in every panel and query', () => {
      expect(dashboard.uid).toBeTruthy();
      expect(dashboard.templating.list).toContainEqual(
        expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }),
      );
      for (const p of panels) {
        expect([p.title, p.datasource]).toEqual([p.title, { type: 'prometheus', uid: '${datasource}' }]);
        for (const t of p.targets ?? []) expect(t.datasource?.uid).toBe('${datasource}');
      }
      expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    });

    it('should query in every panel only metrics the service exposes', () => {
      const queries = [
        ...panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr }))),
        ...dashboard.templating.list.filter((v) => v.type === 'query').map((v) => ({ where: `$${v.name}`, expr: JSON.stringify(v.query) })),
      ];
      expect(panels.every((p) => (p.targets ?? []).length > 0)).toBe(true);
      for (const { where, expr } of queries) {
        const names = expr.match(METRIC_NAME) ?? [];
        expect([where, names.length > 0]).toEqual([where, true]);
        expect([where, names.filter((n) => !exposed.has(n))]).toEqual([where, []]);
      }
    });

    it('should show throughput, latency, the queue, failovers and each provider’s health and usage', () => {
      const all = JSON.stringify(panels.map((p) => p.targets));
      for (const name of [
        'email_messages_accepted_total',
        'email_delivery_latency_seconds_bucket',
        'email_queue_messages',
        'email_queue_oldest_due_seconds',
        'email_failovers_total',
        'email_provider_up',
        'email_provider_usage_ratio',
      ])
        expect(all).toContain(name);
    });
  });
});
