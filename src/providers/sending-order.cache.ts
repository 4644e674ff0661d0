import { Injectable } from '@nestjs/common';
import { ProvidersService } from './providers.service.js';
import type { SendingProvider } from './sending-provider.js';

/**
 * The sending order, kept in memory and reloaded only when `providers_version` moved: every
 * committed change to a provider (by any instance, or by hand in SQL) moves it. The delivery
 * pipeline reads the version with each claim, so a batch never works from an order older than
 * its claim, and no message costs a query for it.
 */
@Injectable()
export class SendingOrderCache {
  private cached: { version: string; order: SendingProvider[] } | null = null;
  private loading: { version: string; order: Promise<SendingProvider[]> } | null = null;

  constructor(private readonly providers: ProvidersService) {}

  /** Every live provider, in sending order, as recent as `version` or more. */
  async at(version: string): Promise<SendingProvider[]> {
    if (this.cached?.version === version) return this.cached.order;
    if (this.loading?.version !== version) {
      // Read after the claim that saw `version`: at least that recent.
      const loading = { version, order: this.providers.sendingOrder() };
      this.loading = loading;
      void loading.order
        .then(
          (order) => {
            if (this.loading === loading) this.cached = { version, order };
          },
          () => undefined,
        )
        .finally(() => {
          if (this.loading === loading) this.loading = null;
        });
    }
    return this.loading.order;
  }

  /** A live provider, or null if deleted or unknown. */
  async one(version: string, id: number): Promise<SendingProvider | null> {
    return (await this.at(version)).find((p) => p.id === id) ?? null;
  }
}
