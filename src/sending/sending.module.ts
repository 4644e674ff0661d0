import { Module } from '@nestjs/common';
import { HealthModule } from '../health/health.module.js';
import { ProvidersModule } from '../providers/providers.module.js';
import { RateLimitModule } from '../rate-limit/rate-limit.module.js';
import { SuppressionsModule } from '../suppressions/suppressions.module.js';
import { SesNotificationsModule } from '../ses-notifications/ses-notifications.module.js';
import { DeliveryService } from './delivery.service.js';
import { LeaseKeeper } from './lease-keeper.js';
import { MessageInsertBatcher } from './message-insert-batcher.js';
import { MAX_MESSAGES_PER_INSERT, MessagesRepository } from './messages.repository.js';
import { OutcomeWriter } from './outcome-writer.js';
import { SendWorker } from './send-worker.js';
import { ProviderTestController } from './provider-test.controller.js';
import { SendingController } from './sending.controller.js';
import { SendingService } from './sending.service.js';
import { TransportCache } from './transport-cache.js';

const insertBatcher = {
  provide: MessageInsertBatcher,
  useFactory: (messages: MessagesRepository) => new MessageInsertBatcher(messages, MAX_MESSAGES_PER_INSERT),
  inject: [MessagesRepository],
};

@Module({
  imports: [ProvidersModule, RateLimitModule, HealthModule, SuppressionsModule, SesNotificationsModule],
  controllers: [SendingController, ProviderTestController],
  providers: [MessagesRepository, insertBatcher, LeaseKeeper, TransportCache, OutcomeWriter, DeliveryService, SendWorker, SendingService],
})
export class SendingModule {}
