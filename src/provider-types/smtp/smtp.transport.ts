import { PassThrough } from 'node:stream';
import nodemailer, { type SendMailOptions, type Transporter } from 'nodemailer';
import type { SendingConfig } from '../../config/app-config.js';
import { redactCredentials, scrubCredentials, type SmtpLogin } from '../../credentials/credential-redactor.js';
import { OutboundDeniedError, type OutboundPolicy } from '../../outbound/outbound-policy.js';
import type { SendingProvider } from '../../providers/sending-provider.js';
import type { Delivered, MailTransport, OutgoingMail, RejectedRecipient } from '../mail-transport.js';
import { mailOptions } from '../mail-options.js';
import { SendFailure } from '../send-failure.js';
import { smtpConnectionOptions } from './smtp-connection-options.js';
import { classifySmtpFailure, type SendProgress } from './smtp-failure.js';
import { passwordInClear, PLAINTEXT_AUTH_CODE, PLAINTEXT_AUTH_REFUSAL } from './smtp-plaintext-auth.js';

type SmtpError = Error & { recipient?: string; responseCode?: number; response?: string };
type StreamingMail = {
  data: { progress?: SendProgress };
  message: { processFunc(f: (input: NodeJS.ReadableStream) => NodeJS.ReadableStream): void };
};

/** A pool bound to one checked address; retired pools close once their last send ends. */
interface Pool {
  address: string;
  transporter: Transporter;
  inFlight: number;
  retired: boolean;
  closed: boolean;
}

/**
 * A pooled nodemailer transport for one SMTP provider; failures are thrown as SendFailure. `smtp_use_tls` means STARTTLS is required
 * (never plain AUTH), `smtp_use_ssl` implicit TLS; certificates are always verified.
 *
 * Every send first resolves the provider's host through the outbound host policy, which checks
 * every address, and the pool connects to one checked address (an IP, so nodemailer looks nothing
 * up), verifying TLS against the host name. The pool opens new connections later on its own; they
 * all go to that same checked address, so DNS rebinding cannot redirect them. When the name stops
 * resolving to the pool's address, the pool is replaced (or the send refused, when the new
 * addresses are denied). A lookup that fails keeps the pool's address, already checked, as
 * nodemailer's own DNS cache would. Sends within SMTP_RESOLVE_CACHE_SECONDS of the last lookup
 * reuse its checked address without looking the name up again (a lookup per send costs more
 * than the send under load); they still never connect anywhere unchecked.
 *
 * A provider that would send its password in clear (stored before that was refused) fails every
 * send without connecting, unless SMTP_ALLOW_PLAINTEXT_AUTH is on.
 */
export class SmtpTransport implements MailTransport {
  /** What a server's reply must not give back (some echo the AUTH command they refused). */
  private readonly login: SmtpLogin;
  /** Would send the password without TLS: never connects. */
  private readonly refused: boolean;
  private pool: Pool | null = null;
  /** The lookup in progress, shared by the sends that start meanwhile. */
  private resolving: Promise<Pool> | null = null;
  /** When the current pool's address was last confirmed by a lookup (performance.now()). */
  private resolvedAt = -Infinity;
  private closed = false;
  /** Pools replaced while sends were still on them; closed when those end. */
  private readonly draining = new Set<Pool>();

  constructor(
    private readonly provider: SendingProvider,
    private readonly password: string | null,
    private readonly config: SendingConfig,
    private readonly policy: OutboundPolicy,
    allowPlaintextAuth: boolean,
  ) {
    this.login = { user: provider.smtpUsername, pass: password };
    this.refused = !allowPlaintextAuth && passwordInClear({ ...provider, hasSmtpPassword: provider.hasSmtpPassword || !!password });
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
    const pool = await this.checkedPool().catch((err: unknown) => {
      // Refused by the policy (EOUTBOUND_DENIED) or not resolved (EDNS): nothing was connected to.
      const e = (err ?? {}) as { code?: unknown; message?: unknown };
      throw new SendFailure(classifySmtpFailure({ code: e.code, message: e.message, command: 'CONN' }, progress));
    });
    pool.inFlight += 1;
    const info = await pool.transporter
      .sendMail({ progress, ...mailOptions(mail) } as SendMailOptions)
      .catch((err: unknown) => {
        throw new SendFailure(classifySmtpFailure(scrubCredentials(err as object, this.login), progress));
      })
      .finally(() => {
        pool.inFlight -= 1;
        this.closeIfDone(pool);
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

  /** Closes every pool at once, as before the policy: sends still on them fail (shutdown, or new credentials). */
  close(): void {
    this.closed = true;
    for (const pool of [this.pool, ...this.draining]) if (pool) close(pool);
    this.pool = null;
    this.draining.clear();
  }

  /** The pool for an address the host resolves to now, every address of it checked. */
  private checkedPool(): Promise<Pool> {
    if (this.pool && !this.resolving && performance.now() - this.resolvedAt < (this.config.smtp.resolveCacheMs ?? 0))
      return Promise.resolve(this.pool);
    this.resolving ??= this.resolvePool().finally(() => (this.resolving = null));
    return this.resolving;
  }

  private async resolvePool(): Promise<Pool> {
    let addresses: string[];
    let servername: string | undefined;
    try {
      ({ addresses, servername } = await this.policy.resolve(this.provider.smtpHost ?? '', this.config.smtp.connectionTimeoutMs));
    } catch (err) {
      if (err instanceof OutboundDeniedError || !this.pool) {
        this.retire();
        throw err;
      }
      return this.pool;
    }
    if (this.closed) throw Object.assign(new Error('Connection pool was closed'), { code: 'ECONNECTION' });
    this.resolvedAt = performance.now();
    if (this.pool && addresses.includes(this.pool.address)) return this.pool;
    this.retire();
    this.pool = this.createPool(addresses[0], servername);
    return this.pool;
  }

  private createPool(address: string, servername: string | undefined): Pool {
    const { config } = this;
    const transporter = nodemailer.createTransport({
      ...smtpConnectionOptions(this.provider, this.password, config.smtp, {
        name: config.messageIdDomain,
        extraCaFile: config.smtp.extraCaFile,
        destination: { address, servername },
      }),
      pool: true,
      maxConnections: config.smtp.maxConnections,
      maxMessages: 100,
    });
    // Whether the whole message (up to the final ".") was written: a connection lost after that
    // may have delivered it, one lost before cannot have, and nodemailer's error looks the same.
    transporter.use('stream', ((sending: StreamingMail, done: () => void) => {
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
    return { address, transporter, inFlight: 0, retired: false, closed: false };
  }

  /** Stops using the current pool: closed now if idle, else once its last send ends. */
  private retire(): void {
    const pool = this.pool;
    this.pool = null;
    if (!pool) return;
    pool.retired = true;
    this.draining.add(pool);
    // After the sends that were already handed this pool (still between their await and their start) begin.
    setImmediate(() => this.closeIfDone(pool));
  }

  private closeIfDone(pool: Pool): void {
    if (!pool.retired || pool.inFlight > 0) return;
    this.draining.delete(pool);
    close(pool);
  }
}

function close(pool: Pool): void {
  if (pool.closed) return;
  pool.closed = true;
  pool.transporter.close();
}
