import { Injectable } from '@nestjs/common';
import type { FieldErrors } from '../../common/errors/app-error.js';
import { MSG } from '../../common/validation/drf-fields.js';
import { AppConfig } from '../../config/app-config.js';
import { OutboundPolicy } from '../../outbound/outbound-policy.js';
import type { SendingProvider } from '../../providers/sending-provider.js';
import type { CheckOutcome } from '../check-outcome.js';
import type { MailTransport } from '../mail-transport.js';
import type { ProviderTypeDriver, ProviderTypeFields } from '../provider-type.js';
import { checkSmtp } from './smtp.checker.js';
import { passwordInClear, PLAINTEXT_AUTH_FIELD_ERROR } from './smtp-plaintext-auth.js';
import { SmtpTransport } from './smtp.transport.js';

/** An SMTP server: host, port, optional login, STARTTLS (`smtp_use_tls`) or implicit TLS (`smtp_use_ssl`). */
@Injectable()
export class SmtpProviderType implements ProviderTypeDriver {
  readonly errorLabel = 'SMTP Error';
  readonly secret = 'smtp_password';

  constructor(
    private readonly config: AppConfig,
    private readonly policy: OutboundPolicy,
  ) {}

  fieldErrors(p: ProviderTypeFields & { smtpUseTls?: boolean; smtpUseSsl?: boolean }): FieldErrors {
    const errors: FieldErrors = {};
    if (p.smtpUseTls && p.smtpUseSsl)
      errors.non_field_errors = ['smtp_use_tls (STARTTLS) and smtp_use_ssl (implicit TLS) cannot both be true.'];
    if (passwordInClear(p) && !this.config.smtpAllowPlaintextAuth) errors.non_field_errors = [PLAINTEXT_AUTH_FIELD_ERROR];
    if (!p.smtpHost) errors.smtp_host = [MSG.required];
    if (!p.smtpPort) errors.smtp_port = [MSG.required];
    // Refused rather than ignored: a client setting it expects SES feedback an SMTP provider never gets.
    if (p.sesConfigurationSet) errors.ses_configuration_set = ['Only an aws_ses provider sends with a configuration set.'];
    if (p.sesTopicArn) errors.ses_topic_arn = ['Only an aws_ses provider takes SNS notifications.'];
    return errors;
  }

  /** `smtp_host` against the outbound host policy: a name is resolved and every address checked. */
  async destinationErrors(p: ProviderTypeFields): Promise<FieldErrors> {
    const refusal = p.smtpHost ? await this.policy.refusal(p.smtpHost) : null;
    return refusal ? { smtp_host: [refusal] } : {};
  }

  createTransport(provider: SendingProvider, password: string | null): MailTransport {
    return new SmtpTransport(provider, password, this.config.sending, this.policy, this.config.smtpAllowPlaintextAuth);
  }

  check(provider: SendingProvider, password: string | null): Promise<CheckOutcome> {
    return checkSmtp(provider, password, this.config, this.policy);
  }
}
