import { Global, Module } from '@nestjs/common';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { RateLimitModule } from '../rate-limit/rate-limit.module.js';
import { DEFAULT_METRICS_PREFIX, metricProviders } from './metric-definitions.js';
import { MetricsPortServer } from './metrics-port.server.js';
import { MetricsScrape } from './metrics-scrape.js';
import { MetricsController } from './metrics.controller.js';
import { MetricsRepository } from './metrics.repository.js';
import { MetricsService } from './metrics.service.js';

/**
 * Prometheus metrics: GET /metrics (scope `metrics`), and METRICS_PORT without authentication.
 * Global, so that any module records through MetricsService without importing this one; the
 * controller, which PrometheusModule owns, finds MetricsScrape the same way.
 */
@Global()
@Module({
  imports: [
    PrometheusModule.register({
      path: '/metrics',
      controller: MetricsController,
      defaultMetrics: { enabled: true, config: { prefix: DEFAULT_METRICS_PREFIX } },
    }),
    RateLimitModule,
  ],
  providers: [...metricProviders, MetricsService, MetricsRepository, MetricsScrape, MetricsPortServer],
  exports: [MetricsService, MetricsScrape, MetricsPortServer],
})
export class MetricsModule {}
