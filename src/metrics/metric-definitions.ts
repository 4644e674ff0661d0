import { makeCounterProvider, makeGaugeProvider, makeHistogramProvider } from '@willsoto/nestjs-prometheus';

/**
 * Every metric the service defines (Node's default process metrics come on top, with the same
 * prefix). Labels are bounded: provider ids and types, outcomes, statuses, limits and periods,
 * route templates; never an address, a domain or a subject.
 */
export const METRIC = {
  accepted: 'email_messages_accepted_total',
  attempts: 'email_send_attempts_total',
  finished: 'email_messages_finished_total',
  queue: 'email_queue_messages',
  oldestDue: 'email_queue_oldest_due_seconds',
  deliveryLatency: 'email_delivery_latency_seconds',
  attemptDuration: 'email_attempt_duration_seconds',
  failovers: 'email_failovers_total',
  rateLimited: 'email_rate_limited_total',
  providerUp: 'email_provider_up',
  usageRatio: 'email_provider_usage_ratio',
  healthChecks: 'email_health_checks_total',
  webhookDeliveries: 'email_webhook_deliveries_total',
  webhookBacklog: 'email_webhook_backlog',
  httpRequests: 'email_http_requests_total',
  httpDuration: 'email_http_request_duration_seconds',
} as const;

/** Prefix of Node's default process metrics (email_process_cpu_seconds_total, email_nodejs_heap_size_used_bytes, ...). */
export const DEFAULT_METRICS_PREFIX = 'email_';

export const metricProviders = [
  makeCounterProvider({ name: METRIC.accepted, help: 'Messages accepted by POST /send/ and /send/batch/ (stored, to be delivered).' }),
  makeCounterProvider({
    name: METRIC.attempts,
    help: 'Send attempts through a provider, by outcome (accepted, message_rejected, provider_failure, uncertain).',
    labelNames: ['provider_id', 'provider_type', 'outcome'],
  }),
  makeCounterProvider({ name: METRIC.finished, help: 'Messages that reached a final status (sent or failed).', labelNames: ['status'] }),
  makeGaugeProvider({
    name: METRIC.queue,
    help: 'Messages not yet final, by status (queued, scheduled, sending), read from the database at scrape time.',
    labelNames: ['status'],
  }),
  makeGaugeProvider({
    name: METRIC.oldestDue,
    help: 'How long the oldest due message (queued or scheduled, its time passed) has been waiting; 0 when none.',
  }),
  makeHistogramProvider({
    name: METRIC.deliveryLatency,
    help: 'From acceptance (or send_at, for a scheduled message) to the provider accepting it.',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
  }),
  makeHistogramProvider({
    name: METRIC.attemptDuration,
    help: 'How long one send attempt through a provider took, whatever its outcome.',
    labelNames: ['provider_id'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  }),
  makeCounterProvider({
    name: METRIC.failovers,
    help: 'A message tried on the next provider after one failed it.',
    labelNames: ['from_provider_id', 'to_provider_id'],
  }),
  makeCounterProvider({
    name: METRIC.rateLimited,
    help: 'Sends a provider could not take because of a limit: minute, day, month, or quota (an SES account quota).',
    labelNames: ['provider_id', 'limit'],
  }),
  makeGaugeProvider({
    name: METRIC.providerUp,
    help: 'Active providers: 1 healthy, 0 unhealthy; absent while unknown. Read from the database at scrape time.',
    labelNames: ['provider_id', 'provider_type'],
  }),
  makeGaugeProvider({
    name: METRIC.usageRatio,
    help: 'Sends counted against the current UTC day / month (accepted or in flight) over the daily / monthly limit (active providers with a limit above 0).',
    labelNames: ['provider_id', 'period'],
  }),
  makeCounterProvider({
    name: METRIC.healthChecks,
    help: 'Active health checks (scheduled, recovery probes, POST health_check), by outcome (healthy, unhealthy, error).',
    labelNames: ['provider_id', 'outcome'],
  }),
  makeCounterProvider({
    name: METRIC.webhookDeliveries,
    help: 'Webhook delivery attempts, by outcome: delivered (2xx), retrying (failed, tried again later), failed (given up), disabled (410 Gone turned the endpoint off).',
    labelNames: ['outcome'],
  }),
  makeGaugeProvider({
    name: METRIC.webhookBacklog,
    help: 'Webhook deliveries not yet delivered or given up (pending or in flight), read from the database at scrape time.',
  }),
  makeCounterProvider({
    name: METRIC.httpRequests,
    help: 'HTTP requests answered, by method, route template and status.',
    labelNames: ['method', 'route', 'status'],
  }),
  makeHistogramProvider({
    name: METRIC.httpDuration,
    help: 'HTTP request durations, by method, route template and status.',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  }),
];
