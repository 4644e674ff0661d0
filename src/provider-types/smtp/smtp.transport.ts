import { PassThrough } from 'node:stream';
import nodemailer, { type SendMailOptions, type Transporter } from 'nodemailer';
import type { SendingConfig } from '../../config/app-config.js';
import { redactCredentials, scrubCredentials, type SmtpLogin } from '../../credentials/credential-redactor.js';
import type { SendingProvider } from '../../providers/sending-provider.js';
import type { Delivered, MailTransport, OutgoingMail, RejectedRecipient } from '../mail-transport.js';
import { mailOptions } from '../mail-options.js';
import { SendFailure } from '../send-failure.js';
import { smtpConnectionOptions } from './smtp-connection-options.js';
import { passwordInClear, PLAINTEXT_AUTH_CODE, PLAINTEXT_AUTH_REFUSAL } from './smtp-plaintext-auth.js';
import { classifySmtpFailure, type SendProgress } from './smtp-failure.js';

type SmtpError = Error & { recipient?: string; responseCode?: number; response?: string };
type StreamingMail = {
  data: { progress?: SendProgress };
  message: { processFunc(f: (input: NodeJS.ReadableStream) => NodeJS.ReadableStream): void };
};

/**
 * A pooled nodemailer transport for one SMTP provider; failures are thrown as SendFailure. `smtp_use_tls` means STARTTLS is required
 * (never plain AUTH), `smtp_use_ssl` implicit TLS; certificates are always verified. A provider that
 * would send its password in clear (stored before that was refused) fails every send without connecting,
 * unless SMTP_ALLOW_PLAINTEXT_AUTH is on.
 */
export class SmtpTransport implements MailTransport {
  private readonly transporter: Transporter;
  /** What a server's reply must not give back (some echo the AUTH command they refused). */
  private readonly login: SmtpLogin;
  private readonly refused: boolean;

  constructor(provider: SendingProvider, password: string | null, config: SendingConfig, allowPlaintextAuth: boolean) {
    this.login = { user: provider.smtpUsername, pass: password };
    this.refused = !allowPlaintextAuth && passwordInClear({ ...provider, hasSmtpPassword: provider.hasSmtpPassword || !!password });
    this.transporter = nodemailer.createTransport({
      ...smtpConnectionOptions(provider, password, config.smtp, { name: config.messageIdDomain, extraCaFile: config.smtp.extraCaFile }),
      pool: true,
      maxConnections: config.smtp.maxConnections,
      maxMessages: 100,
    });
    // Whether the whole message (up to the final ".") was written: a connection lost after that
    // may have delivered it, one lost before cannot have, and nodemailer's error looks the same.
    this.transporter.use('stream', ((sending: StreamingMail, done: () => void) => {
      const progress = sending.data.progress;
      sending.message.processFunc((input) => {
        const output = new PassThrough();
        output.once('end', () => {
          if (progress) progress.messageWritten = true;
        });
        return input.pipe(output);
      });
      done();
    }) as never);
  }

  async send(mail: OutgoingMail): Promise<Delivered> {
    if (this.refused)
      throw new SendFailure({
        kind: 'provider',
        code: PLAINTEXT_AUTH_CODE,
        responseCode: null,
        command: null,
        retryAfterSeconds: null,
        reply: PLAINTEXT_AUTH_REFUSAL,
      });
    const progress: SendProgress = { messageWritten: false };
    const info = await this.transporter.sendMail({ progress, ...mailOptions(mail) } as SendMailOptions).catch((err: unknown) => {
      throw new SendFailure(classifySmtpFailure(scrubCredentials(err as object, this.login), progress));
    });
    const redact = (text: string | undefined) => (typeof text === 'string' ? redactCredentials(text, this.login) : null);
    const rejectedErrors = ((info as { rejectedErrors?: SmtpError[] }).rejectedErrors ?? []).map((e): RejectedRecipient => ({
      address: e.recipient ?? '',
      smtp_code: e.responseCode ?? null,
      smtp_reply: redact(e.response),
    }));
    const rejected = (info.rejected as (string | { address: string })[]).map((r) => (typeof r === 'string' ? r : r.address));
    return {
      accepted: (info.accepted as (string | { address: string })[]).map((r) => (typeof r === 'string' ? r : r.address)),
      rejected: rejected.map(
        (address) => rejectedErrors.find((e) => e.address === address) ?? { address, smtp_code: null, smtp_reply: null },
      ),
      reply: redact(info.response)?.slice(0, 300) ?? null,
    };
  }

  close(): void {
    this.transporter.close();
  }
}
