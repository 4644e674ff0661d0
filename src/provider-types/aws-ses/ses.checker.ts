import { GetAccountCommand, type GetAccountCommandOutput } from '@aws-sdk/client-sesv2';
import { redactCredentials } from '../../credentials/credential-redactor.js';
import type { SendingProvider } from '../../providers/sending-provider.js';
import type { CheckOutcome, SesAccountState } from '../check-outcome.js';
import { createSesClient } from './ses-client.js';

/** How the SDK words an error it could not take as an Error (one from another realm, say). */
const SDK_WRAPPER = /^AWS SDK error wrapper for (?:Error: )?/;

type AwsError = { name?: unknown; code?: unknown; message?: unknown; $metadata?: { httpStatusCode?: unknown } };

/**
 * SESv2 GetAccount with the provider's credentials and region — and no mail (nodemailer's
 * verify() of an SES transport would send a deliberately invalid message). Healthy when sending
 * is enabled and the account is not shut down; the account state and quota come back either way
 * once SES answered. Bounded by `timeoutMs` overall; one attempt, no SDK retries.
 */
export async function checkSes(provider: SendingProvider, secretAccessKey: string | null, timeoutMs: number): Promise<CheckOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const client = createSesClient(provider, secretAccessKey, timeoutMs);
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  // Aborting ends the request; the race ends the check even if some step ignored the signal.
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new Error('health check timed out'));
    }, timeoutMs);
  });
  try {
    const answer = await Promise.race([client.send(new GetAccountCommand({}), { abortSignal: abort.signal }), deadline]);
    const account = sesAccountState(answer);
    const base = { latencyMs: elapsed(), smtpCode: null, details: { sesAccount: account } };
    if (!account.sendingEnabled)
      return {
        ...base,
        healthy: false,
        errorCode: 'SES_SENDING_DISABLED',
        reply: 'SES sending is paused for the account (SendingEnabled false)',
      };
    if (account.enforcementStatus === 'SHUTDOWN')
      return { ...base, healthy: false, errorCode: 'SES_SHUTDOWN', reply: 'the SES account is shut down (EnforcementStatus SHUTDOWN)' };
    return { ...base, healthy: true, errorCode: null, reply: null };
  } catch (err) {
    const e = (err ?? {}) as AwsError;
    const timedOut = abort.signal.aborted;
    const status = e.$metadata?.httpStatusCode;
    const text = timedOut ? 'health check timed out' : typeof e.message === 'string' ? e.message.replace(SDK_WRAPPER, '') : null;
    return {
      healthy: false,
      latencyMs: elapsed(),
      errorCode: (timedOut ? 'ETIMEDOUT' : errorName(e)).slice(0, 64),
      smtpCode: typeof status === 'number' ? status : null,
      // Redacted before cutting to length, so that a cut cannot hide what to redact.
      reply: text ? redactCredentials(text.replace(/\s+/g, ' '), { user: null, pass: secretAccessKey }).slice(0, 300) : null,
    };
  } finally {
    clearTimeout(timer);
    client.destroy();
  }
}

/** SES's exception name (InvalidClientTokenId, TooManyRequestsException, …), else the system error code (ECONNREFUSED, …). */
function errorName(e: AwsError): string {
  const isServiceError = e.$metadata?.httpStatusCode !== undefined;
  if (isServiceError && typeof e.name === 'string' && e.name) return e.name;
  if (typeof e.code === 'string' && e.code) return e.code;
  if (typeof e.name === 'string' && e.name && e.name !== 'Error') return e.name;
  // An error the SDK re-wrapped as text ("AWS SDK error wrapper for Error: connect ECONNREFUSED …").
  const systemCode = typeof e.message === 'string' ? /\b(E[A-Z][A-Z0-9_]{2,})\b/.exec(e.message.replace(SDK_WRAPPER, '')) : null;
  return systemCode ? systemCode[1] : 'UNKNOWN';
}

function sesAccountState(out: GetAccountCommandOutput): SesAccountState {
  const quota = out.SendQuota;
  return {
    sendingEnabled: out.SendingEnabled === true,
    enforcementStatus: out.EnforcementStatus ?? null,
    productionAccessEnabled: out.ProductionAccessEnabled ?? null,
    max24HourSend: quota?.Max24HourSend ?? null,
    maxSendRate: quota?.MaxSendRate ?? null,
    sentLast24Hours: quota?.SentLast24Hours ?? null,
  };
}
