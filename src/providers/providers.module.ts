import { Module } from '@nestjs/common';
import { CredentialsModule } from '../credentials/credentials.module.js';
import { ProviderTypesModule } from '../provider-types/provider-types.module.js';
import { RateLimitModule } from '../rate-limit/rate-limit.module.js';
import { ProviderImportService } from './provider-import.service.js';
import { ProviderStatsRepository } from './provider-stats.repository.js';
import { ProvidersController } from './providers.controller.js';
import { ProvidersRepository } from './providers.repository.js';
import { ProvidersService } from './providers.service.js';
import { SendingOrderCache } from './sending-order.cache.js';

@Module({
  imports: [CredentialsModule, RateLimitModule, ProviderTypesModule],
  controllers: [ProvidersController],
  providers: [ProvidersRepository, ProviderStatsRepository, ProvidersService, ProviderImportService, SendingOrderCache],
  exports: [ProvidersService, SendingOrderCache, ProviderImportService, ProviderTypesModule],
})
export class ProvidersModule {}
