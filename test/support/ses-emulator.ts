import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sesLocalModule from 'aws-ses-v2-local';

// A CommonJS package whose `exports.default` is the server factory.
const sesLocal = sesLocalModule.default;

/** A GetAccount answer as SES gives it; the emulator wants every field. */
export interface SesAccount {
  SendingEnabled: boolean;
  EnforcementStatus: string;
  ProductionAccessEnabled: boolean;
  SendQuota: { Max24HourSend: number; MaxSendRate: number; SentLast24Hours: number };
}

export function sesAccount(overrides: Partial<SesAccount> = {}): SesAccount {
  return {
    SendingEnabled: true,
    EnforcementStatus: 'HEALTHY',
    ProductionAccessEnabled: true,
    SendQuota: { Max24HourSend: 50_000, MaxSendRate: 14, SentLast24Hours: 0 },
    ...overrides,
  };
}

/**
 * The `aws-ses-v2-local` SES emulator (a real HTTP server speaking the SESv2 API) on 127.0.0.1
 * and a free port, in this process; never on its default host, which listens on every interface.
 * The app reaches it through the SDK's own `AWS_ENDPOINT_URL_SESV2`, which `env()` gives.
 * GetAccount answers what `setAccount()` put in `AWS_SES_ACCOUNT` (the emulator reads it per request).
 */
export class SesEmulator {
  private constructor(private readonly server: Server) {}

  static async start(account: SesAccount = sesAccount()): Promise<SesEmulator> {
    const server = await sesLocal({ host: '127.0.0.1', port: 0 });
    if (!server.listening) await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const emulator = new SesEmulator(server);
    emulator.setAccount(account);
    return emulator;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The environment the app needs to send through this emulator. */
  env(): Record<string, string> {
    return { AWS_ENDPOINT_URL_SESV2: this.endpoint };
  }

  setAccount(account: SesAccount): void {
    process.env.AWS_SES_ACCOUNT = JSON.stringify({
      DedicatedIpAutoWarmupEnabled: false,
      Details: {
        AdditionalContactEmailAddresses: [],
        ContactLanguage: 'EN',
        MailType: 'TRANSACTIONAL',
        ReviewDetails: { CaseId: 'test', Status: 'GRANTED' },
        UseCaseDescription: 'tests',
        WebsiteURL: 'https://example.com',
      },
      SuppressionAttributes: { SuppressedReasons: [] },
      ...account,
    });
  }

  async close(): Promise<void> {
    delete process.env.AWS_SES_ACCOUNT;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
