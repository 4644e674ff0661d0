import { Injectable, type Provider, type Type } from '@nestjs/common';
import type { ProviderType } from '../providers/provider.constants.js';
import { AwsSesProviderType } from './aws-ses/aws-ses.provider-type.js';
import type { ProviderTypeDriver } from './provider-type.js';
import { SmtpProviderType } from './smtp/smtp.provider-type.js';

/** Every provider type and the class that makes it. A new type is a new folder and one line here. */
const TYPES = {
  smtp: SmtpProviderType,
  aws_ses: AwsSesProviderType,
} satisfies Record<ProviderType, Type<ProviderTypeDriver>>;

/** Picks a provider type's implementation. */
@Injectable()
export class ProviderTypeRegistry {
  constructor(private readonly types: Record<ProviderType, ProviderTypeDriver>) {}

  of(type: ProviderType): ProviderTypeDriver {
    return this.types[type];
  }
}

/** The type classes, and the registry built from their instances (for ProviderTypesModule). */
export const providerTypeProviders: Provider[] = [
  ...Object.values(TYPES),
  {
    provide: ProviderTypeRegistry,
    inject: Object.values(TYPES),
    useFactory: (...drivers: ProviderTypeDriver[]) =>
      new ProviderTypeRegistry(
        Object.fromEntries(Object.keys(TYPES).map((name, i) => [name, drivers[i]])) as Record<ProviderType, ProviderTypeDriver>,
      ),
  },
];
