import { Global, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DestinationStream } from 'pino';
import type { Options } from 'pino-http';
import { AppConfig } from '../../config/app-config.js';

/** Where log lines go; tests replace it to read what was logged. */
export const LOG_DESTINATION = Symbol('LOG_DESTINATION');

/**
 * Paths that may hold a secret. pino's redaction is case-sensitive and `*` spans one level,
 * so each path is listed explicitly (FINDINGS.md); request bodies are never logged at all.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.Authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'smtp_password',
  'password',
  'pass',
  'auth.pass',
  'auth.password',
  'token',
  'key',
];

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

const METRICS_PATH = /^\/metrics\/?(\?|$)/;

@Global()
@Module({
  imports: [
    LoggerModule.forRootAsync({
      providers: [{ provide: LOG_DESTINATION, useValue: undefined }],
      inject: [AppConfig, LOG_DESTINATION],
      useFactory: (config: AppConfig, destination?: DestinationStream) => {
        const options: Options = {
          level: config.logLevel,
          redact: { paths: REDACT_PATHS, censor: '[redacted]' },
          genReqId: (req: IncomingMessage, res: ServerResponse) => {
            const given = req.headers['x-request-id'];
            const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
            res.setHeader('X-Request-Id', id);
            return id;
          },
          serializers: {
            req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
            res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
          },
          // A 503 (the database is down) is expected and its cause logged, throttled, by the exception filter.
          // A scrape every few seconds would drown the log: successful ones are not logged, refused ones are.
          customLogLevel: (req: IncomingMessage, res: ServerResponse, err?: Error) =>
            err || (res.statusCode >= 500 && res.statusCode !== 503)
              ? 'error'
              : res.statusCode >= 400
                ? 'warn'
                : res.statusCode === 200 && METRICS_PATH.test(req.url ?? '')
                  ? 'silent'
                  : 'info',
          // For a 5xx pino-http makes up an Error whose stack, its own, would repeat on every such
          // request; the status says as much, and the exception filter logs the real cause.
          customErrorObject: (_req: IncomingMessage, _res: ServerResponse, _err: Error, val: Record<string, unknown>) => {
            const { err: _made, ...rest } = val;
            return rest;
          },
          autoLogging: { ignore: (req: IncomingMessage) => req.url?.startsWith('/health/') ?? false },
          ...(config.logFormat === 'pretty' && !destination
            ? { transport: { target: 'pino-pretty', options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l' } } }
            : {}),
        };
        return { pinoHttp: destination ? [options, destination] : options };
      },
    }),
  ],
})
export class LoggingModule {}
