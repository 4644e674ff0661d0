import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import { AppConfig } from '../../config/app-config.js';
import { LogThrottle } from '../logging/log-throttle.js';
import { answerUnmatched } from './allowed-methods.js';
import { AppError, ErrorCode, httpStatusOf } from './app-error.js';
import { DATABASE_UNAVAILABLE_DETAIL, databaseUnavailability } from './database-unavailable.js';
import { loggableError } from './loggable-error.js';

/** When to try again after the database failed a request, or readiness failed (seconds). */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/**
 * The single place where failures become HTTP responses, in the shape Django REST framework
 * clients parse: `{"field": ["message"]}` for validation, `{"detail": "..."}` otherwise.
 * A database that cannot be reached or does not answer is a 503 with Retry-After, logged once
 * per LOG_REPEAT_INTERVAL_SECONDS with a count. Anything else unexpected is a 500 that carries
 * only an error id; the cause goes to the log.
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpExceptionFilter');
  private readonly unavailable: LogThrottle;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    config: AppConfig,
  ) {
    this.unavailable = new LogThrottle(this.logger, config.logRepeatIntervalMs);
  }

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request>();
    const { status, body, headers } = this.toResponse(exception, req);
    if (res.headersSent) return;
    for (const [k, v] of Object.entries(headers ?? {})) res.setHeader(k, v);
    if (body === undefined) res.status(status).end();
    else res.status(status).json(body);
  }

  private toResponse(exception: unknown, req: Request): { status: number; body?: unknown; headers?: Record<string, string> } {
    if (exception instanceof AppError) {
      const status = httpStatusOf(exception.code);
      if ((exception.code === ErrorCode.ValidationFailed || exception.code === ErrorCode.Unprocessable) && exception.fields)
        return { status, body: exception.fields };
      const headers = status === 401 ? { 'WWW-Authenticate': 'Bearer realm="api"', ...exception.headers } : exception.headers;
      return { status, body: { detail: exception.detail }, headers };
    }
    if (exception instanceof HttpException) return this.fromHttpException(exception, req);
    if (databaseUnavailability(exception)) {
      this.unavailable.error(exception, 'database unavailable');
      const headers = { 'Retry-After': String(DATABASE_RETRY_AFTER_SECONDS) };
      return { status: httpStatusOf(ErrorCode.ServiceUnavailable), body: { detail: DATABASE_UNAVAILABLE_DETAIL }, headers };
    }
    const bodyParserType = (exception as { type?: unknown })?.type;
    if (bodyParserType === 'entity.parse.failed')
      return { status: 400, body: { detail: 'JSON parse error - the body is not valid JSON.' } };
    const errorId = randomUUID();
    this.logger.error({ err: loggableError(exception), errorId, method: req.method, url: req.originalUrl }, 'unhandled error');
    return { status: 500, body: { detail: 'A server error occurred.', error_id: errorId } };
  }

  private fromHttpException(exception: HttpException, req: Request): { status: number; body?: unknown; headers?: Record<string, string> } {
    const status = exception.getStatus();
    const cause = (exception as { cause?: { type?: string } }).cause;
    switch (status) {
      case 400:
        // Express's JSON body parser fails before any route runs.
        if (cause?.type === 'entity.parse.failed' || /JSON/.test(exception.message))
          return { status, body: { detail: 'JSON parse error - the body is not valid JSON.' } };
        return { status, body: { detail: exception.message } };
      case 404:
        // Nest's not-found handler is mounted under the global prefix, where req.path has lost it;
        // routes are registered with the full path, so match on baseUrl + path.
        return answerUnmatched(this.adapterHost.httpAdapter?.getInstance(), req.method, `${req.baseUrl}${req.path}`);
      case 405:
        return { status, body: { detail: `Method "${req.method}" not allowed.` } };
      case 413:
        return { status, body: { detail: 'Request body is too large.' } };
      case 415:
        return { status, body: { detail: `Unsupported media type "${req.headers['content-type'] ?? ''}" in request.` } };
      case 503: {
        // Terminus's readiness result: name the checks that are down, not their messages (the route is public).
        const down = Object.keys((exception.getResponse() as { error?: Record<string, unknown> }).error ?? {});
        const detail = down.length ? `Not ready: ${down.join(', ')} down.` : exception.message;
        return { status, body: { detail }, headers: { 'Retry-After': String(DATABASE_RETRY_AFTER_SECONDS) } };
      }
      default:
        return { status, body: { detail: exception.message } };
    }
  }
}
