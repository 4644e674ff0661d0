import { Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ApiKeysModule } from './api-keys/api-keys.module.js';
import { BootstrapAdminKey } from './api-keys/bootstrap-admin-key.service.js';
import { AuthFailureThrottle } from './common/auth/auth-failure-throttle.js';
import { AuthGuard } from './common/auth/auth.guard.js';
import { HttpExceptionFilter } from './common/errors/http-exception.filter.js';
import { NotFoundFallback } from './common/errors/not-found.fallback.js';
import { LoggingModule } from './common/logging/logging.module.js';
import { AppConfig } from './config/app-config.js';
import { AppConfigModule } from './config/config.module.js';
import { DatabaseModule } from './database/database.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { HealthModule } from './health/health.module.js';
import { ProvidersModule } from './providers/providers.module.js';
import { RetentionModule } from './retention/retention.module.js';
import { SendingModule } from './sending/sending.module.js';
import { SuppressionsModule } from './suppressions/suppressions.module.js';
import { WebhooksModule } from './webhooks/webhooks.module.js';
import { SesNotificationsModule } from './ses-notifications/ses-notifications.module.js';

@Module({
  imports: [
    AppConfigModule,
    LoggingModule,
    DatabaseModule,
    MetricsModule,
    ApiKeysModule,
    ProvidersModule,
    SuppressionsModule,
    SendingModule,
    SesNotificationsModule,
    HealthModule,
    RetentionModule,
    WebhooksModule,
  ],
  providers: [
    {
      provide: AuthFailureThrottle,
      useFactory: (config: AppConfig) => new AuthFailureThrottle({ limit: config.authFailuresPerMinute, windowMs: 60_000 }),
      inject: [AppConfig],
    },
    { provide: APP_GUARD, useClass: AuthGuard },
    BootstrapAdminKey,
    { provide: APP_FILTER, useClass: HttpExceptionFilter },
    NotFoundFallback,
  ],
})
export class AppModule {}
