import fs from 'node:fs';
import tls from 'node:tls';
import type { SendingProvider } from '../../providers/sending-provider.js';

export interface SmtpTimeouts {
  connectionTimeoutMs: number;
  greetingTimeoutMs: number;
  socketTimeoutMs: number;
}

/**
 * How to reach a provider's SMTP server, for sending and for health checks alike.
 * `smtp_use_tls` requires STARTTLS (so AUTH never goes in clear, and a check really logs in);
 * `smtp_use_ssl` is implicit TLS. Certificates are always verified; `extraCaFile` adds a
 * private CA beside the system ones.
 */
export function smtpConnectionOptions(
  provider: SendingProvider,
  password: string | null,
  timeouts: SmtpTimeouts,
  opts: { name: string; extraCaFile?: string },
) {
  const extraCa = opts.extraCaFile ? fs.readFileSync(opts.extraCaFile, 'utf8') : null;
  return {
    host: provider.smtpHost ?? undefined,
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
