import { Module } from '@nestjs/common';
import { ProvidersModule } from '../providers/providers.module.js';
import { SesNotificationsController } from './ses-notifications.controller.js';
import { SesNotificationsRepository } from './ses-notifications.repository.js';
import { SesNotificationsService } from './ses-notifications.service.js';
import { SnsCertificates } from './sns-certificates.js';
import { SnsHttpsClient } from './sns-https.client.js';

/** Bounces, complaints and deliveries Amazon SES reports through SNS (issue #14, section 3). */
@Module({
  imports: [ProvidersModule],
  controllers: [SesNotificationsController],
  providers: [SesNotificationsRepository, SesNotificationsService, SnsCertificates, SnsHttpsClient],
  exports: [SesNotificationsService],
})
export class SesNotificationsModule {}
