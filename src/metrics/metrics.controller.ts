import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { PrometheusController } from '@willsoto/nestjs-prometheus';
import type { Response } from 'express';
import { RequireScope } from '../common/auth/auth.decorators.js';
import { MetricsScrape } from './metrics-scrape.js';

/** GET /metrics (outside the API prefix, as scrapers expect); its path is set by PrometheusModule. */
@ApiTags('service health')
@Controller()
export class MetricsController extends PrometheusController {
  constructor(private readonly scrape: MetricsScrape) {
    super();
  }

  @Get()
  @RequireScope('metrics')
  @ApiOperation({
    summary: 'Prometheus metrics',
    description:
      'The text exposition format. Needs a key with the `metrics` scope; METRICS_PORT serves the same without a key, for a scraper inside the network.',
  })
  @ApiProduces('text/plain')
  @ApiOkResponse({
    description: 'Metrics in the Prometheus text format.',
    schema: { type: 'string', example: 'email_messages_accepted_total 42\n' },
  })
  override async index(@Res({ passthrough: true }) response: Response): Promise<string> {
    const body = await this.scrape.render();
    response.type(this.scrape.contentType);
    return body;
  }
}
