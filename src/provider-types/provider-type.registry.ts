import { Injectable } from '@nestjs/common';
import type { ProviderType } from '../providers/provider.constants.js';
import { AwsSesProviderType } from './aws-ses/aws-ses.provider-type.js';
import type { ProviderTypeDriver } from './provider-type.js';
import { SmtpProviderType } from './smtp/smtp.provider-type.js';

/** Picks a provider type's implementation. A new type is a new folder and one line here. */
@Injectable()
export class ProviderTypeRegistry {
  private readonly types: Record<ProviderType, ProviderTypeDriver>;

  constructor(smtp: SmtpProviderType, awsSes: AwsSesProviderType) {
    this.types = { smtp, aws_ses: awsSes };
  }

  of(type: ProviderType): ProviderTypeDriver {
    return this.types[type];
  }
}
