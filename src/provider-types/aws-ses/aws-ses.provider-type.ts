import { Injectable } from '@nestjs/common';
import type { FieldErrors } from '../../common/errors/app-error.js';
import { MSG } from '../../common/validation/drf-fields.js';
import { AppConfig } from '../../config/app-config.js';
import type { SendingProvider } from '../../providers/sending-provider.js';
import type { CheckOutcome } from '../check-outcome.js';
import type { MailTransport } from '../mail-transport.js';
import type { ProviderTypeDriver, ProviderTypeFields } from '../provider-type.js';
import { AWS_REGION_MESSAGE, isAwsRegion } from './aws-region.js';
import { SesTransport } from './ses.transport.js';
import { checkSes } from './ses.checker.js';

/** Amazon SES through its API: region, access key id, secret access key. */
@Injectable()
export class AwsSesProviderType implements ProviderTypeDriver {
  readonly errorLabel = 'SES Error';
  readonly secret = 'aws_secret_access_key';

  constructor(private readonly config: AppConfig) {}

  fieldErrors(p: ProviderTypeFields): FieldErrors {
    const errors: FieldErrors = {};
    if (!p.awsRegion) errors.aws_region = [MSG.required];
    else if (!isAwsRegion(p.awsRegion)) errors.aws_region = [AWS_REGION_MESSAGE];
    if (!p.awsAccessKeyId) errors.aws_access_key_id = [MSG.required];
    if (!p.hasAwsSecretAccessKey) errors.aws_secret_access_key = [MSG.required];
    return errors;
  }

  /** The SES endpoint is AWS's for the region, or the operator's AWS_ENDPOINT_URL_SESV2: nothing an API user chose. */
  destinationErrors(): Promise<FieldErrors> {
    return Promise.resolve({});
  }

  createTransport(provider: SendingProvider, secretAccessKey: string | null): MailTransport {
    return new SesTransport(provider, secretAccessKey, this.config.sending);
  }

  /** SESv2 GetAccount: sending enabled and not shut down; the account's quota comes back in `details`. */
  check(provider: SendingProvider, secretAccessKey: string | null): Promise<CheckOutcome> {
    return checkSes(provider, secretAccessKey, this.config.health.timeoutMs);
  }
}
