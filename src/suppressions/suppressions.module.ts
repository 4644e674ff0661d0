import { Module } from '@nestjs/common';
import { SuppressionsController } from './suppressions.controller.js';
import { SuppressionsRepository } from './suppressions.repository.js';
import { SuppressionsService } from './suppressions.service.js';

@Module({
  controllers: [SuppressionsController],
  providers: [SuppressionsRepository, SuppressionsService],
  exports: [SuppressionsService],
})
export class SuppressionsModule {}
