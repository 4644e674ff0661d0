import { RequestMethod } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { AppConfig } from './config/app-config.js';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { createValidationPipe } from './common/validation/validation.pipe.js';

export const API_PREFIX = 'api/email-provider';
export const DOCS_PATH = 'api/docs';

/** Everything main.ts does to the app besides listening; e2e tests call it too. */
const JSON_TYPE = /^application\/([\w.+-]+\+)?json\b/i;

/** A body that is not JSON would be read as empty; DRF answers 415, and so do we. */
function rejectNonJsonBodies(req: Request, res: Response, next: NextFunction): void {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (hasBody && ['POST', 'PUT', 'PATCH'].includes(req.method) && !JSON_TYPE.test(req.headers['content-type'] ?? '')) {
    res.status(415).json({ detail: `Unsupported media type "${req.headers['content-type'] ?? ''}" in request.` });
    return;
  }
  next();
}

export function configureApp(app: NestExpressApplication): NestExpressApplication {
  app.useLogger(app.get(Logger));
  // req.ip is the socket's peer unless that peer is a configured proxy; never any X-Forwarded-For.
  app.set('trust proxy', app.get(AppConfig).trustProxy);
  app.setGlobalPrefix(API_PREFIX, {
    exclude: [
      { path: 'health/live', method: RequestMethod.GET },
      { path: 'health/ready', method: RequestMethod.GET },
    ],
  });
  app.useGlobalPipes(createValidationPipe());
  // Not strict: a JSON string or number body is valid JSON, and gets DRF's "Expected a dictionary".
  app.useBodyParser('json', { strict: false, limit: app.get(AppConfig).maxRequestBytes });
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
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An API key: ADMIN_API_KEY or one made with POST /api-keys/.' })
      .build(),
  );
  SwaggerModule.setup(DOCS_PATH, app, document, { jsonDocumentUrl: 'api/docs-json', swaggerOptions: { persistAuthorization: true } });
  return app;
}
