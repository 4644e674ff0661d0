import nodemailer, { type Transporter } from 'nodemailer';
import type { AppConfig } from '../../config/app-config.js';
import { redactSmtpText } from '../../credentials/credential-redactor.js';
import type { OutboundPolicy } from '../../outbound/outbound-policy.js';
import type { SendingProvider } from '../../providers/sending-provider.js';
import type { CheckOutcome } from '../check-outcome.js';
import { smtpConnectionOptions } from './smtp-connection-options.js';
import { passwordInClear, PLAINTEXT_AUTH_CODE, PLAINTEXT_AUTH_REFUSAL } from './smtp-plaintext-auth.js';

type SmtpError = { code?: unknown; responseCode?: unknown; response?: unknown; message?: unknown };

/**
 * Connect, greeting, EHLO, STARTTLS or implicit TLS as configured, AUTH — and no mail. A fresh
 * connection each time (not the sending pool), to an address the outbound host policy checked
 * just before (a refused host fails with EOUTBOUND_DENIED and is never connected to), bounded by
 * HEALTH_CHECK_TIMEOUT_MS overall, the lookup included. A provider that would send its password
 * in clear is unhealthy without connecting (unless SMTP_ALLOW_PLAINTEXT_AUTH).
 */
export async function checkSmtp(
  provider: SendingProvider,
  password: string | null,
  config: AppConfig,
  policy: OutboundPolicy,
): Promise<CheckOutcome> {
  if (!config.smtpAllowPlaintextAuth && passwordInClear({ ...provider, hasSmtpPassword: provider.hasSmtpPassword || !!password }))
    return { healthy: false, latencyMs: 0, errorCode: PLAINTEXT_AUTH_CODE, smtpCode: null, reply: PLAINTEXT_AUTH_REFUSAL };
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const { timeoutMs } = config.health;
  let transporter: Transporter | undefined;
  let over = false;
  const run = async () => {
    const target = await policy.resolve(provider.smtpHost ?? '', timeoutMs);
    if (over) return;
    transporter = nodemailer.createTransport(
      smtpConnectionOptions(
        provider,
        password,
        { connectionTimeoutMs: timeoutMs, greetingTimeoutMs: timeoutMs, socketTimeoutMs: timeoutMs },
        {
          name: config.sending.messageIdDomain,
          extraCaFile: config.sending.smtp.extraCaFile,
          destination: { address: target.addresses[0], servername: target.servername },
        },
      ),
    );
    await transporter.verify();
  };
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('health check timed out'), { code: 'ETIMEDOUT' })), timeoutMs);
  });
  try {
    await Promise.race([run(), deadline]);
    return { healthy: true, latencyMs: elapsed(), errorCode: null, smtpCode: null, reply: null };
  } catch (err) {
    const e = (err ?? {}) as SmtpError;
    const text = typeof e.response === 'string' ? e.response : typeof e.message === 'string' ? e.message : null;
    return {
      healthy: false,
      latencyMs: elapsed(),
      errorCode: typeof e.code === 'string' ? e.code.slice(0, 64) : 'UNKNOWN',
      smtpCode: typeof e.responseCode === 'number' ? e.responseCode : null,
      // Redacted before cutting to length, so that a cut cannot hide what to redact.
      reply: text ? redactSmtpText(text.replace(/\s+/g, ' '), { user: provider.smtpUsername, pass: password }).slice(0, 300) : null,
    };
  } finally {
    over = true;
    clearTimeout(timer);
    transporter?.close();
  }
}
