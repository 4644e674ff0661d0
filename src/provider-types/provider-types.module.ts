import { Module } from '@nestjs/common';
import { AwsSesProviderType } from './aws-ses/aws-ses.provider-type.js';
import { ProviderTypeRegistry } from './provider-type.registry.js';
import { SmtpProviderType } from './smtp/smtp.provider-type.js';

/** The provider types (one folder each) and the registry that picks one; needs only the configuration. */
@Module({
  providers: [SmtpProviderType, AwsSesProviderType, ProviderTypeRegistry],
  exports: [ProviderTypeRegistry],
})
export class ProviderTypesModule {}
