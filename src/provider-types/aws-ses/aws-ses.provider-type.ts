import { Injectable } from '@nestjs/common';
import type { FieldErrors } from '../../common/errors/app-error.js';
import { MSG } from '../../common/validation/drf-fields.js';
import { AppConfig } from '../../config/app-config.js';
import type { SendingProvider } from '../../providers/sending-provider.js';
import type { CheckOutcome } from '../check-outcome.js';
import type { MailTransport } from '../mail-transport.js';
import type { ProviderTypeDriver, ProviderTypeFields } from '../provider-type.js';
import { SendFailure } from '../send-failure.js';
import { checkSes } from './ses.checker.js';

/** Amazon SES through its API: region, access key id, secret access key. */
@Injectable()
export class AwsSesProviderType implements ProviderTypeDriver {
  readonly secret = 'aws_secret_access_key';

  constructor(private readonly config: AppConfig) {}

  fieldErrors(p: ProviderTypeFields): FieldErrors {
    const errors: FieldErrors = {};
    if (!p.awsRegion) errors.aws_region = [MSG.required];
    if (!p.awsAccessKeyId) errors.aws_access_key_id = [MSG.required];
    if (!p.hasAwsSecretAccessKey) errors.aws_secret_access_key = [MSG.required];
    return errors;
  }

  createTransport(): MailTransport {
    throw new SendFailure({
      kind: 'provider',
      code: 'EUNSUPPORTED',
      responseCode: null,
      command: null,
      retryAfterSeconds: null,
      reply: 'sending through Amazon SES is not supported yet',
    });
  }

  /** SESv2 GetAccount: sending enabled and not shut down; the account's quota comes back in `details`. */
  check(provider: SendingProvider, secretAccessKey: string | null): Promise<CheckOutcome> {
    return checkSes(provider, secretAccessKey, this.config.health.timeoutMs);
  }
}
