import { RequestMethod, type INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { createValidationPipe } from './common/validation/validation.pipe.js';

export const API_PREFIX = 'api/email-provider';
export const DOCS_PATH = 'api/docs';

/** Everything main.ts does to the app besides listening; e2e tests call it too. */
export function configureApp(app: INestApplication): INestApplication {
  app.useLogger(app.get(Logger));
  app.setGlobalPrefix(API_PREFIX, {
    exclude: [
      { path: 'health/live', method: RequestMethod.GET },
      { path: 'health/ready', method: RequestMethod.GET },
    ],
  });
  app.useGlobalPipes(createValidationPipe());
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
