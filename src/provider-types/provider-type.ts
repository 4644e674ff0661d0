import type { FieldErrors } from '../common/errors/app-error.js';
import type { ProviderEntity } from '../providers/provider.entity.js';
import type { SendingProvider } from '../providers/sending-provider.js';
import type { CheckOutcome } from './check-outcome.js';
import type { MailTransport } from './mail-transport.js';

/** The stored secret a provider type sends with (Fernet-encrypted in its own column). */
export type SecretName = 'smtp_password' | 'aws_secret_access_key';

/** The provider fields a type's rules look at. */
export type ProviderTypeFields = Pick<
  ProviderEntity,
  | 'smtpHost'
  | 'smtpPort'
  | 'smtpUsername'
  | 'hasSmtpPassword'
  | 'awsRegion'
  | 'awsAccessKeyId'
  | 'hasAwsSecretAccessKey'
  | 'sesConfigurationSet'
  | 'sesTopicArn'
>;

/**
 * Everything that makes one provider type (smtp, aws_ses): one folder each under
 * src/provider-types/, chosen by ProviderTypeRegistry. The sending and health modules only call
 * these methods and never branch on the type.
 */
export interface ProviderTypeDriver {
  readonly secret: SecretName;
  /** How a failed test send's `error` begins ("SMTP Error", as the seed API shows, or "SES Error"). */
  readonly errorLabel: string;
  /** The fields this type needs, as 400 errors keyed by field (each field's own format is the DTO's). */
  fieldErrors(p: ProviderTypeFields): FieldErrors;
  /**
   * Where the provider would connect, checked against the outbound host policy when it is saved
   * (it may resolve a name, hence async): 400 errors keyed by field. Checked again at every connection.
   */
  destinationErrors(p: ProviderTypeFields): Promise<FieldErrors>;
  /** A transport for the provider; sends throw SendFailure, classified by this type's rules. */
  createTransport(provider: SendingProvider, secret: string | null): MailTransport;
  /** An active check that sends no mail, bounded by HEALTH_CHECK_TIMEOUT_MS; never throws for the provider's faults. */
  check(provider: SendingProvider, secret: string | null): Promise<CheckOutcome>;
}
