import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { TerminusModule } from '@nestjs/terminus';
import { ScheduledRoundsRepository } from '../database/scheduled-rounds.repository.js';
import { ProvidersModule } from '../providers/providers.module.js';
import { RateLimitModule } from '../rate-limit/rate-limit.module.js';
import { HealthCheckScheduler } from './health-check.scheduler.js';
import { HealthChecksRepository } from './health-checks.repository.js';
import { HealthController } from './health.controller.js';
import { MigrationsHealthIndicator } from './migrations.health.js';
import { ProviderHealthController } from './provider-health.controller.js';
import { ProviderHealthService } from './provider-health.service.js';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), ScheduleModule.forRoot(), ProvidersModule, RateLimitModule],
  controllers: [HealthController, ProviderHealthController],
  providers: [MigrationsHealthIndicator, HealthChecksRepository, ScheduledRoundsRepository, ProviderHealthService, HealthCheckScheduler],
  exports: [ProviderHealthService],
})
export class HealthModule {}
