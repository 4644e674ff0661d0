import { Module } from '@nestjs/common';
import { OutboundModule } from '../outbound/outbound.module.js';
import { ProviderTypeRegistry, providerTypeProviders } from './provider-type.registry.js';

/** The provider types (one folder each) and the registry that picks one; needs the configuration and the outbound host policy. */
@Module({
  imports: [OutboundModule],
  providers: providerTypeProviders,
  exports: [ProviderTypeRegistry],
})
export class ProviderTypesModule {}
