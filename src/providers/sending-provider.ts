import type { HealthStatus, Priority, ProviderType } from './provider.constants.js';

/** What the sending module needs to know of a provider; secrets are fetched separately, when a transport is built. */
export interface SendingProvider {
  id: number;
  name: string;
  providerType: ProviderType;
  isActive: boolean;
  isDefault: boolean;
  priority: Priority;
  healthStatus: HealthStatus;
  /** Since when the provider is unhealthy; after a cool-down the sender may probe it. */
  unhealthySince: Date | null;
  /** Provider-side send failures in a row, as of the read. */
  consecutiveFailures: number;
  credentialsVersion: number;
  fromEmail: string;
  fromName: string;
  replyTo: string | null;
  smtpHost: string | null;
  smtpPort: number | null;
  smtpUsername: string | null;
  hasSmtpPassword: boolean;
  smtpUseTls: boolean;
  smtpUseSsl: boolean;
  awsRegion: string | null;
  awsAccessKeyId: string | null;
  /** Sent as SendEmail's ConfigurationSetName (aws_ses). */
  sesConfigurationSet: string | null;
}
