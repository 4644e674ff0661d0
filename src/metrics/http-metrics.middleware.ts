import type { NextFunction, Request, Response } from 'express';
import type { MetricsService } from './metrics.service.js';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * Counts and times every answer, by the route's template (`/api/email-provider/providers/:id`)
 * as Express matched it, so ids and other URL parts never become labels. A request no route
 * took (404, a body refused before routing) is `unmatched`; an unusual method is `other`.
 */
export function httpMetrics(metrics: MetricsService): (req: Request, res: Response, next: NextFunction) => void {
  return function httpMetricsMiddleware(req, res, next) {
    const start = performance.now();
    res.once('close', () => {
      const route = req.route as { path?: unknown } | undefined;
      const template = typeof route?.path === 'string' ? `${req.baseUrl}${route.path}` : 'unmatched';
      const method = METHODS.has(req.method) ? req.method : 'other';
      metrics.httpRequest(method, template, res.statusCode, (performance.now() - start) / 1000);
    });
    next();
  };
}
