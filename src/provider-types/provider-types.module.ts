import { Module } from '@nestjs/common';
import { ProviderTypeRegistry, providerTypeProviders } from './provider-type.registry.js';

/** The provider types (one folder each) and the registry that picks one; needs only the configuration. */
@Module({
  providers: providerTypeProviders,
  exports: [ProviderTypeRegistry],
})
export class ProviderTypesModule {}
