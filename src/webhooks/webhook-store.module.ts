import { Module } from '@nestjs/common';
import { WebhooksRepository } from './webhooks.repository.js';

/** The webhook tables alone, for the CLI's key rotation: no controller, no dispatcher. */
@Module({
  providers: [WebhooksRepository],
  exports: [WebhooksRepository],
})
export class WebhookStoreModule {}
