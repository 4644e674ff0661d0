import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import sesLocalModule from 'aws-ses-v2-local';
import { simpleParser, type ParsedMail } from 'mailparser';

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

/** A SendEmail request that reached the emulator and was accepted, as the app sent it. */
export interface SesSentEmail {
  fromEmailAddress: string | null;
  /** ConfigurationSetName, which the emulator accepts but does not store. */
  configurationSetName: string | null;
  destination: { to: string[]; cc: string[]; bcc: string[] };
  /** The access key id and region the request was signed with (from its Authorization header). */
  accessKeyId: string | null;
  region: string | null;
  /** Content.Raw.Data: the MIME message, Message-ID and all (the emulator's /store drops it). */
  raw: Buffer;
  parsed: ParsedMail;
}

/**
 * What SendEmail answers instead of the emulator: an SES error (a real HTTP answer with SES's
 * `x-amzn-ErrorType` header and JSON `__type`, which the SDK raises as the exception of that
 * name), or `drop-after-request`: read the whole request, then close the connection unanswered.
 */
export type SesSendFault = { errorType: string; status: number; message?: string } | 'drop-after-request';

export const sesError = (errorType: string, status: number, message = `${errorType} (injected by the test)`): SesSendFault => ({
  errorType,
  status,
  message,
});

const SEND_EMAIL_PATH = '/v2/email/outbound-emails';

/**
 * The `aws-ses-v2-local` SES emulator (a real HTTP server speaking the SESv2 API) on 127.0.0.1
 * and a free port, in this process; never on its default host, which listens on every interface.
 * The app reaches it through the SDK's own `AWS_ENDPOINT_URL_SESV2`, which `env()` gives.
 * GetAccount answers what `setAccount()` put in `AWS_SES_ACCOUNT` (the emulator reads it per request).
 *
 * The app talks to a recording pass-through in front of it (`endpoint`): it keeps each accepted
 * SendEmail's raw message (`sent`), can answer SendEmail with an SES error or a dropped connection
 * (`setSendFault`), and can refuse connections altogether (`refuseConnections`).
 */
export class SesEmulator {
  /** SendEmail requests the emulator accepted, in order. */
  readonly sent: SesSentEmail[] = [];
  /** Every SendEmail request that reached the pass-through, faulted or not. */
  sendRequests = 0;
  private fault: SesSendFault | null = null;
  private readonly arrivals = new Set<() => void>();
  private readonly port: number;

  private constructor(
    private readonly server: Server,
    private readonly proxy: Server,
  ) {
    this.port = (proxy.address() as AddressInfo).port;
  }

  static async start(account: SesAccount = sesAccount()): Promise<SesEmulator> {
    const server = await sesLocal({ host: '127.0.0.1', port: 0 });
    if (!server.listening) await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    let emulator: SesEmulator | undefined;
    const proxy = http.createServer((req, res) => void emulator?.handle(req, res));
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    emulator = new SesEmulator(server, proxy);
    emulator.setAccount(account);
    return emulator;
  }

  /** The pass-through's address, which the app uses. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private get emulatorPort(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Until cleared with null, every SendEmail gets this instead of the emulator's answer. */
  setSendFault(fault: SesSendFault | null): void {
    this.fault = fault;
  }

  /** Closes the pass-through's port (and its open connections): connections are refused until acceptConnections(). */
  async refuseConnections(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.proxy.close(() => resolve()));
    this.proxy.closeAllConnections();
    await closed;
  }

  async acceptConnections(): Promise<void> {
    await new Promise<void>((resolve) => this.proxy.listen(this.port, '127.0.0.1', resolve));
  }

  async waitForSent(count: number, timeoutMs = 5_000): Promise<SesSentEmail[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.sent.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${count} SendEmail request(s) within ${timeoutMs} ms, got ${this.sent.length}`);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.arrivals.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.arrivals.add(done);
      });
    }
    return this.sent.slice(0, count);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const isSend = req.method === 'POST' && req.url === SEND_EMAIL_PATH;
    if (isSend) {
      this.sendRequests += 1;
      const fault = this.fault;
      if (fault === 'drop-after-request') {
        req.socket.destroy();
        return;
      }
      if (fault) {
        res.writeHead(fault.status, {
          'content-type': 'application/json',
          'x-amzn-requestid': 'test-request-id',
          // As SES sends it; the SDK keeps the part before the colon.
          'x-amzn-errortype': `${fault.errorType}:http://internal.amazon.com/coral/com.amazonaws.sesv2/`,
        });
        res.end(JSON.stringify({ __type: fault.errorType, message: fault.message }));
        return;
      }
    }
    const upstream = http.request(
      {
        host: '127.0.0.1',
        port: this.emulatorPort,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: `127.0.0.1:${this.emulatorPort}` },
      },
      (answer) => {
        const parts: Buffer[] = [];
        answer.on('data', (c: Buffer) => parts.push(c));
        answer.on('end', () => {
          void (async () => {
            if (isSend && answer.statusCode === 200) await this.record(req, body);
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(Buffer.concat(parts));
          })();
        });
      },
    );
    upstream.on('error', () => res.destroy());
    upstream.end(body);
  }

  private async record(req: IncomingMessage, body: Buffer): Promise<void> {
    const request = JSON.parse(body.toString('utf8')) as {
      FromEmailAddress?: string;
      ConfigurationSetName?: string;
      Destination?: { ToAddresses?: string[]; CcAddresses?: string[]; BccAddresses?: string[] };
      Content?: { Raw?: { Data?: string } };
    };
    const credential = /Credential=([^/]+)\/\d{8}\/([^/]+)\//.exec(req.headers.authorization ?? '');
    const raw = Buffer.from(request.Content?.Raw?.Data ?? '', 'base64');
    this.sent.push({
      fromEmailAddress: request.FromEmailAddress ?? null,
      configurationSetName: request.ConfigurationSetName ?? null,
      destination: {
        to: request.Destination?.ToAddresses ?? [],
        cc: request.Destination?.CcAddresses ?? [],
        bcc: request.Destination?.BccAddresses ?? [],
      },
      accessKeyId: credential?.[1] ?? null,
      region: credential?.[2] ?? null,
      raw,
      parsed: await simpleParser(raw),
    });
    for (const done of [...this.arrivals]) done();
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
    if (this.proxy.listening) await this.refuseConnections();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
