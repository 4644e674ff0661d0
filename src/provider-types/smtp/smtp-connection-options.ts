import fs from 'node:fs';
import tls from 'node:tls';
import type { SendingProvider } from '../../providers/sending-provider.js';

export interface SmtpTimeouts {
  connectionTimeoutMs: number;
  greetingTimeoutMs: number;
  socketTimeoutMs: number;
}

/** Where to connect: an address the outbound host policy checked, and the name to verify the certificate against. */
export interface SmtpDestination {
  address: string;
  /** The provider's host name (SNI and certificate checks); undefined when the host is an IP address. */
  servername: string | undefined;
}

/**
 * How to reach a provider's SMTP server, for sending and for health checks alike.
 * `smtp_use_tls` requires STARTTLS (so AUTH never goes in clear, and a check really logs in);
 * `smtp_use_ssl` is implicit TLS. Certificates are always verified, against the provider's host
 * name although the connection goes to the checked address; `extraCaFile` adds a private CA
 * beside the system ones.
 */
export function smtpConnectionOptions(
  provider: SendingProvider,
  password: string | null,
  timeouts: SmtpTimeouts,
  opts: { name: string; extraCaFile?: string; destination: SmtpDestination },
) {
  const extraCa = opts.extraCaFile ? fs.readFileSync(opts.extraCaFile, 'utf8') : null;
  return {
    // An IP address: nodemailer connects to it as it is, with no lookup of its own.
    host: opts.destination.address,
    servername: opts.destination.servername,
    port: provider.smtpPort ?? undefined,
    secure: provider.smtpUseSsl,
    requireTLS: provider.smtpUseTls,
    auth: provider.smtpUsername ? { user: provider.smtpUsername, pass: password ?? '' } : undefined,
    name: opts.name,
    connectionTimeout: timeouts.connectionTimeoutMs,
    greetingTimeout: timeouts.greetingTimeoutMs,
    socketTimeout: timeouts.socketTimeoutMs,
    tls: extraCa ? { ca: [...tls.rootCertificates, extraCa] } : undefined,
    // nodemailer would otherwise log through its own logger, transport options included.
    logger: false,
    debug: false,
  };
}
