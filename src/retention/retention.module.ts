import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { ScheduledRoundsRepository } from '../database/scheduled-rounds.repository.js';
import { RateLimitModule } from '../rate-limit/rate-limit.module.js';
import { RetentionRepository } from './retention.repository.js';
import { RetentionScheduler } from './retention.scheduler.js';
import { RetentionService } from './retention.service.js';

/** Drops message bodies, then deletes messages, a set time after they became final (issue #12). */
@Module({
  // RateLimitModule provides the clock.
  imports: [ScheduleModule.forRoot(), RateLimitModule],
  providers: [RetentionRepository, ScheduledRoundsRepository, RetentionService, RetentionScheduler],
  exports: [RetentionService],
})
export class RetentionModule {}
