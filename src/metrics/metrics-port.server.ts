import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loggableError } from '../common/errors/loggable-error.js';
import { AppConfig } from '../config/app-config.js';
import { MetricsScrape } from './metrics-scrape.js';

/**
 * METRICS_PORT: GET /metrics without authentication, on its own listener bound to METRICS_HOST
 * (loopback unless told otherwise), for a scraper inside the network. Nothing else is served there.
 */
@Injectable()
export class MetricsPortServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Metrics');
  private server: http.Server | null = null;

  constructor(
    private readonly config: AppConfig,
    private readonly scrape: MetricsScrape,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { port, host } = this.config.metrics;
    if (port === undefined) return;
    const server = http.createServer((req, res) => void this.answer(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.logger.log(`metrics without authentication on http://${host}:${this.address()?.port}/metrics`);
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Where it listens (port 0 picks a free one), or null when METRICS_PORT is unset. */
  address(): AddressInfo | null {
    return (this.server?.address() as AddressInfo | null) ?? null;
  }

  private async answer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0].replace(/\/$/, '');
    if (path !== '/metrics') return this.reply(res, 404, { detail: 'Not found.' });
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return this.reply(res, 405, { detail: `Method "${req.method}" not allowed.` }, { Allow: 'GET, HEAD' });
    try {
      const body = await this.scrape.render();
      res.writeHead(200, { 'Content-Type': this.scrape.contentType, 'Cache-Control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (err) {
      this.logger.error({ err: loggableError(err) }, 'metrics scrape failed');
      this.reply(res, 503, { detail: 'Metrics are unavailable: the database did not answer.' });
    }
  }

  private reply(res: http.ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  }
}
