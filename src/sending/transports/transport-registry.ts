import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../../config/app-config.js';
import { ProvidersService } from '../../providers/providers.service.js';
import type { SendingProvider } from '../../providers/sending-provider.js';
import type { MailTransport } from './mail-transport.js';
import { SmtpTransport } from './smtp.transport.js';

/** A failure of ours before any connection, classified like a provider-side one. */
export class TransportUnavailableError extends Error {
  readonly code = 'EUNSUPPORTED';
}

/**
 * One pooled transport per provider, rebuilt when its credentials_version moves (any instance
 * may have changed the credentials: the version is in the row every attempt reads).
 */
@Injectable()
export class TransportRegistry implements OnApplicationShutdown {
  private readonly transports = new Map<number, { version: number; transport: MailTransport }>();

  constructor(
    private readonly providers: ProvidersService,
    private readonly config: AppConfig,
  ) {}

  async for(provider: SendingProvider): Promise<MailTransport> {
    const cached = this.transports.get(provider.id);
    if (cached?.version === provider.credentialsVersion) return cached.transport;
    cached?.transport.close();
    this.transports.delete(provider.id);
    const transport = await this.build(provider);
    this.transports.set(provider.id, { version: provider.credentialsVersion, transport });
    return transport;
  }

  onApplicationShutdown(): void {
    for (const { transport } of this.transports.values()) transport.close();
    this.transports.clear();
  }

  private async build(provider: SendingProvider): Promise<MailTransport> {
    switch (provider.providerType) {
      case 'smtp':
        return new SmtpTransport(provider, await this.providers.smtpPassword(provider.id), this.config.sending);
      case 'aws_ses':
        throw new TransportUnavailableError('sending through Amazon SES is not supported yet');
    }
  }
}
