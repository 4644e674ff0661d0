import { RequestMethod } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import { AppConfig } from './config/app-config.js';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { httpMetrics } from './metrics/http-metrics.middleware.js';
import { MetricsService } from './metrics/metrics.service.js';
import { createValidationPipe } from './common/validation/validation.pipe.js';

export const API_PREFIX = 'api/email-provider';
export const DOCS_PATH = 'api/docs';

/** Everything main.ts does to the app besides listening; e2e tests call it too. */
const JSON_TYPE = /^application\/([\w.+-]+\+)?json\b/i;

const TEXT_TYPE = /^text\/plain\b/i;

/** Amazon SNS posts its JSON messages as text/plain; this route alone takes that. */
const SES_NOTIFICATIONS_ROUTE = new RegExp(`^/${API_PREFIX}/providers/[^/]+/ses_notifications/?$`, 'i');
const isSnsRoute = (req: Request) => req.method === 'POST' && SES_NOTIFICATIONS_ROUTE.test(req.path);
const isSnsText = (req: Request) => isSnsRoute(req) && TEXT_TYPE.test(req.headers['content-type'] ?? '');
/** An SNS message carries up to 256 KB (an SES report with the original headers can be long), plus its envelope. */
const SNS_BODY_LIMIT_BYTES = 512 * 1024;

/** A body that is not JSON would be read as empty; DRF answers 415, and so do we. */
function rejectNonJsonBodies(req: Request, res: Response, next: NextFunction): void {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (hasBody && ['POST', 'PUT', 'PATCH'].includes(req.method) && !JSON_TYPE.test(req.headers['content-type'] ?? '') && !isSnsText(req)) {
    res.status(415).json({ detail: `Unsupported media type "${req.headers['content-type'] ?? ''}" in request.` });
    return;
  }
  next();
}

/**
 * helmet's headers, with a policy Swagger UI works under (its page loads only its own scripts
 * and styles, plus data: images) and framing denied: nothing here is meant to be embedded.
 * HSTS only when the request came over TLS, as seen by Express: behind a trusted proxy that
 * says https (TRUST_PROXY), since the service itself speaks plain HTTP.
 */
function useSecurityHeaders(app: NestExpressApplication): void {
  app.disable('x-powered-by');
  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          'frame-ancestors': ["'none'"],
          // Swagger UI sets inline styles; helmet's default would also allow any https: stylesheet and font.
          'style-src': ["'self'", "'unsafe-inline'"],
          'font-src': ["'self'", 'data:'],
          // The service speaks plain HTTP itself; upgrading Swagger UI's requests to https would break it there.
          'upgrade-insecure-requests': null,
        },
      },
      frameguard: { action: 'deny' },
      strictTransportSecurity: false,
    }),
  );
  const hsts = helmet.strictTransportSecurity({ maxAge: 365 * 24 * 3600, includeSubDomains: true });
  app.use((req: Request, res: Response, next: NextFunction) => (req.secure ? hsts(req, res, next) : next()));
}

/** CORS for the listed origins only; any other origin gets no CORS header at all. */
function corsOptions(origins: string[]): Parameters<NestExpressApplication['enableCors']>[0] {
  const allowed = new Set(origins);
  return {
    origin: (origin, done) => done(null, origin !== undefined && allowed.has(origin) ? origin : false),
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key'],
    exposedHeaders: ['Retry-After', 'Idempotent-Replayed', 'X-Request-Id', 'WWW-Authenticate', 'Allow'],
    maxAge: 600,
  };
}

// Case-insensitive, with or without the trailing slash, as Express routes match.
const SEND_ROUTE = new RegExp(`^/${API_PREFIX}/send(/batch)?/?$`, 'i');

/**
 * The large JSON limit only where attachments travel (POST /send/ and /send/batch/, a batch
 * holding no more than one /send/ may), a small one elsewhere, so a
 * client cannot make the service read megabytes on any other route (before authentication, too).
 * Named jsonParser so that Nest, seeing one, does not add its own.
 */
function jsonBodyParser(config: AppConfig): (req: Request, res: Response, next: NextFunction) => void {
  // Not strict: a JSON string or number body is valid JSON, and gets DRF's "Expected a dictionary".
  const small = express.json({ strict: false, limit: config.bodyLimitBytes });
  const large = express.json({ strict: false, limit: config.sendBodyLimitBytes });
  const snsLimit = Math.max(config.bodyLimitBytes, SNS_BODY_LIMIT_BYTES);
  const snsText = express.text({ type: () => true, limit: snsLimit });
  const snsJson = express.json({ strict: false, limit: snsLimit });
  return function jsonParser(req, res, next) {
    if (isSnsRoute(req)) return (isSnsText(req) ? snsText : snsJson)(req, res, next);
    const parser = req.method === 'POST' && SEND_ROUTE.test(req.path) ? large : small;
    parser(req, res, next);
  };
}

export function configureApp(app: NestExpressApplication): NestExpressApplication {
  app.useLogger(app.get(Logger));
  // req.ip is the socket's peer unless that peer is a configured proxy; never any X-Forwarded-For.
  app.set('trust proxy', app.get(AppConfig).trustProxy);
  // Express would hash every JSON answer for an ETag no client of this API uses (the send routes'
  // answers are never the same twice); Swagger UI's static files keep theirs.
  app.set('etag', false);
  app.setGlobalPrefix(API_PREFIX, {
    exclude: [
      { path: 'health/live', method: RequestMethod.GET },
      { path: 'health/ready', method: RequestMethod.GET },
      { path: 'metrics', method: RequestMethod.GET },
    ],
  });
  app.useGlobalPipes(createValidationPipe());
  const config = app.get(AppConfig);
  // Before anything that may answer, so that refused bodies and missing routes are counted too.
  app.use(httpMetrics(app.get(MetricsService)));
  // First, so that every response carries the headers, body parser errors included.
  useSecurityHeaders(app);
  if (config.corsOrigins.length) app.enableCors(corsOptions(config.corsOrigins));
  app.use(jsonBodyParser(config));
  app.use(rejectNonJsonBodies);
  app.enableShutdownHooks();

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Email provider service')
      .setDescription(
        'Outgoing mail providers (SMTP, Amazon SES) with encrypted credentials, health checks, limits and failover. ' +
          'Errors: `{"field": ["message"]}` for invalid input (400), `{"detail": "..."}` otherwise.',
      )
      .setVersion('1')
      // bearerFormat is only a hint, but DocumentBuilder's default says JWT, and keys are not JWTs.
      .addBearerAuth({
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'API key',
        description: 'An API key (not a JWT): ADMIN_API_KEY or one made with POST /api-keys/.',
      })
      .build(),
  );
  SwaggerModule.setup(DOCS_PATH, app, document, { jsonDocumentUrl: 'api/docs-json', swaggerOptions: { persistAuthorization: true } });
  return app;
}
