import { SendEmailCommand, type SESv2Client } from '@aws-sdk/client-sesv2';
import { AsyncLocalStorage } from 'node:async_hooks';
import diagnosticsChannel from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import nodemailer, { type SendMailOptions, type Transporter } from 'nodemailer';
import type { SendingConfig } from '../../config/app-config.js';
import type { SendingProvider } from '../../providers/sending-provider.js';
import type { Delivered, MailTransport, OutgoingMail } from '../mail-transport.js';
import { mailOptions } from '../mail-options.js';
import { SendFailure } from '../send-failure.js';
import { createSesClient } from './ses-client.js';
import { classifySesFailure, type SesProgress } from './ses-failure.js';

type Tracked = SesProgress & { requestStarted: boolean };

/** The SendEmail call in flight in this async context, if any. */
const inFlight = new AsyncLocalStorage<Tracked>();
/** How far each failed SendEmail call got (see SesProgress). */
const progressOf = new WeakMap<object, Tracked>();

// Node publishes every outgoing HTTP request here, in the context of the code that made it; ours
// are the ones made inside inFlight.run(). 'finish' means the whole request went to the socket.
// Node's built-in channels are still marked experimental: should this one stay silent, no
// request is seen as started and the failure is classified as if how far it got were unknown.
diagnosticsChannel.subscribe('http.client.request.start', (message) => {
  const progress = inFlight.getStore();
  if (!progress) return;
  const { request } = message as { request: ClientRequest };
  progress.requestStarted = true;
  request.once('finish', () => {
    progress.requestWritten = true;
  });
  request.once('error', (err) => {
    progress.requestError = err;
  });
});

/**
 * Amazon SES through nodemailer's SES transport and the SESv2 API (SendEmail with raw content):
 * nodemailer builds the MIME message exactly as for SMTP (mailOptions), SES sends it to the
 * envelope's recipients (Destination; Bcc is in no header). One SDK client per provider, with
 * its credentials and region; failures are thrown as SendFailure, classified by ses-failure.ts.
 */
export class SesTransport implements MailTransport {
  private readonly client: SESv2Client;
  private readonly transporter: Transporter;
  private readonly configurationSet: string | null;

  constructor(
    provider: SendingProvider,
    private readonly secretAccessKey: string | null,
    config: SendingConfig,
  ) {
    // The SMTP connect and inactivity timeouts; no overall bound, as a large message may take long to upload.
    const client = createSesClient(provider, secretAccessKey, {
      connectionTimeoutMs: config.smtp.connectionTimeoutMs,
      socketTimeoutMs: config.smtp.socketTimeoutMs,
    });
    this.client = client;
    this.configurationSet = provider.sesConfigurationSet;
    this.transporter = nodemailer.createTransport({
      SES: {
        sesClient: {
          config: client.config,
          send(command: unknown): Promise<unknown> {
            const progress: Tracked = { requestStarted: false, requestWritten: false };
            return inFlight
              .run(progress, () => client.send(command as SendEmailCommand))
              .catch((err: unknown) => {
                if (typeof err === 'object' && err !== null) progressOf.set(err, progress);
                throw err;
              });
          },
        },
        SendEmailCommand,
      },
    });
  }

  async send(mail: OutgoingMail): Promise<Delivered> {
    const info = await this.transporter
      .sendMail({
        ...mailOptions(mail),
        // The plain sender, as in the SMTP envelope; nodemailer would give the From header, name and all.
        ses: {
          FromEmailAddress: mail.from.address,
          ...(this.configurationSet && { ConfigurationSetName: this.configurationSet }),
        },
      } as SendMailOptions)
      .catch((err: unknown) => {
        const progress = typeof err === 'object' && err !== null ? progressOf.get(err) : undefined;
        throw new SendFailure(classifySesFailure(err, progress?.requestStarted ? progress : undefined, this.secretAccessKey));
      });
    // nodemailer's SES transport answers SendEmail's MessageId as `response`.
    const messageId = typeof info.response === 'string' && info.response ? info.response : null;
    return {
      // SES takes a message for all its recipients or for none.
      accepted: [...mail.to, ...mail.cc, ...mail.bcc],
      rejected: [],
      reply: messageId ? `SES MessageId ${messageId}`.slice(0, 300) : null,
      providerMessageId: messageId && messageId.length <= 255 ? messageId : null,
    };
  }

  close(): void {
    this.transporter.close();
    this.client.destroy();
  }
}
