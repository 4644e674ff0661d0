import { Module } from '@nestjs/common';
import { CredentialsModule } from '../credentials/credentials.module.js';
import { OutboundModule } from '../outbound/outbound.module.js';
import { RateLimitModule } from '../rate-limit/rate-limit.module.js';
import { WebhookDispatcher } from './webhook-dispatcher.js';
import { WebhookStoreModule } from './webhook-store.module.js';
import { WebhooksController } from './webhooks.controller.js';
import { WebhooksService } from './webhooks.service.js';

/**
 * Signed webhooks: endpoints (scope `webhooks`) and the dispatcher that delivers the outbox.
 * Events are raised in SQL by the statements that change state (webhook_raise), not through
 * this module, so no other module depends on it.
 */
@Module({
  imports: [CredentialsModule, OutboundModule, RateLimitModule, WebhookStoreModule],
  controllers: [WebhooksController],
  providers: [WebhooksService, WebhookDispatcher],
})
export class WebhooksModule {}
