import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { ProviderTypeRegistry } from '../provider-types/provider-type.registry.js';
import type { MailTransport } from '../provider-types/mail-transport.js';
import { ProvidersService } from '../providers/providers.service.js';
import type { SendingProvider } from '../providers/sending-provider.js';

/**
 * One transport per provider (pooled connections, API clients), rebuilt when its
 * credentials_version moves (any instance may have changed the credentials: the version is in
 * the row every attempt reads). The provider's type builds it.
 */
@Injectable()
export class TransportCache implements OnApplicationShutdown {
  private readonly transports = new Map<number, { version: number; transport: MailTransport }>();

  constructor(
    private readonly providers: ProvidersService,
    private readonly types: ProviderTypeRegistry,
  ) {}

  async for(provider: SendingProvider): Promise<MailTransport> {
    const cached = this.transports.get(provider.id);
    if (cached?.version === provider.credentialsVersion) return cached.transport;
    cached?.transport.close();
    this.transports.delete(provider.id);
    const transport = this.types.of(provider.providerType).createTransport(provider, await this.providers.secretFor(provider));
    this.transports.set(provider.id, { version: provider.credentialsVersion, transport });
    return transport;
  }

  onApplicationShutdown(): void {
    for (const { transport } of this.transports.values()) transport.close();
    this.transports.clear();
  }
}
