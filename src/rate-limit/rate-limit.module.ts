import { Module } from '@nestjs/common';
import { CLOCK, systemClock } from './clock.js';
import { RateLimitRepository } from './rate-limit.repository.js';
import { RateLimitService } from './rate-limit.service.js';

@Module({
  providers: [RateLimitRepository, RateLimitService, { provide: CLOCK, useValue: systemClock }],
  exports: [RateLimitService, CLOCK],
})
export class RateLimitModule {}
