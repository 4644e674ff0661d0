import { redactCredentials } from '../../credentials/credential-redactor.js';
import type { ClassifiedFailure, FailureKind } from '../send-failure.js';

/**
 * How far the SendEmail request got, which a network error cannot tell: a connection reset or a
 * silence while the body was still being written and one after it was all written look alike
 * (ECONNRESET, or the SDK's TimeoutError). The transport knows: it watches the HTTP request's
 * 'finish' (every byte handed to the socket).
 */
export interface SesProgress {
  requestWritten: boolean;
  /**
   * The error the HTTP request itself ended with, if any. The SDK replaces an error that is not
   * an `Error` of its own realm (as under a VM-based test runner) by an opaque wrapper that keeps
   * no code; the classification falls back to this one then.
   */
  requestError?: unknown;
}

/** The fields the AWS SDK (v3) and nodemailer put on a failed send; the error's name is SES's error type. */
interface SesErrorFields {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  $response?: { headers?: Record<string, unknown> };
}

/** The sending rate or quota: SES is fine, just not now. */
const THROTTLING = new Set(['TooManyRequestsException', 'LimitExceededException', 'Throttling', 'ThrottlingException']);
/** The account or its credentials (whatever the HTTP status), or SES itself: another provider may do better. */
const PROVIDER_ERRORS = new Set([
  'SendingPausedException',
  'AccountSuspendedException',
  'AccountSendingPausedException',
  'ConfigurationSetSendingPausedException',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignature',
  'IncompleteSignatureException',
  'MissingAuthenticationToken',
  'MissingAuthenticationTokenException',
  'InvalidAccessKeyId',
  'ExpiredToken',
  'ExpiredTokenException',
  'RequestExpired',
  'NotAuthorized',
  'OptInRequired',
  // A configuration set or contact list the account lacks: the account's settings, not the message.
  'NotFoundException',
  'InternalFailure',
  'InternalServiceErrorException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
]);
/** SES refused this message: its sender, recipients or content. */
const MESSAGE_ERRORS = new Set([
  'MessageRejected',
  'MailFromDomainNotVerifiedException',
  'MailFromDomainNotVerified',
  'BadRequestException',
  'InvalidParameterValue',
  'SerializationException',
]);
/** Statuses that, under a name we do not know, still say the message was refused. */
const MESSAGE_STATUSES = new Set([400, 413]);
/** nodemailer could not build the message (say, an attachment it cannot read): no request went out. */
const MESSAGE_CODES = new Set(['ESTREAM', 'EFILEACCESS', 'EURLACCESS', 'EFETCH']);
/** Socket errors that can end a request after its last byte as well as before it. */
const MID_REQUEST_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ETIMEDOUT']);

/** send_attempts.error_code and health_checks.error_code hold 32 characters. */
/** send_attempts.error_code and health_checks.error_code are varchar(64). */
const MAX_CODE = 64;
const MAX_REPLY = 300;

/**
 * How the SES type classifies a failed send (see ClassifiedFailure for the kinds), from the
 * error's name (SES's error type: the `x-amzn-ErrorType` header or the body's `__type`, which the
 * SDK makes the exception's name), the HTTP status and, without an answer, the socket error's
 * code and how far the request got — never from the text.
 *
 * - Throttling, a paused or suspended account, credentials or signature errors, SES's own 5xx
 *   and a request that never reached SES: `provider` (fail over now; counts against its health).
 * - MessageRejected, an unverified MAIL FROM domain, BadRequestException, and an unknown error
 *   with status 400 or 413: `message` (fails, no failover).
 * - No answer after the whole request was written, or a 2xx the SDK could not read: `uncertain`
 *   (SES may have taken it; it is retried only through this provider, with the same Message-ID).
 */
export function classifySesFailure(err: unknown, progress?: SesProgress, secretAccessKey?: string | null): ClassifiedFailure {
  let e = fieldsOf(err);
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : null;
  if (status === null && nameOf(e) === null && sysCodeOf(e) === null && progress?.requestError) e = fieldsOf(progress.requestError);
  const name = nameOf(e);
  const sysCode = sysCodeOf(e);
  const code = status !== null ? (name ?? 'UNKNOWN') : (sysCode ?? (name === 'TimeoutError' ? 'ETIMEDOUT' : (name ?? 'UNKNOWN')));
  return {
    kind: kindOf(code, name, status, sysCode, progress),
    code: fitCode(code),
    responseCode: status,
    command: MESSAGE_CODES.has(code) ? null : 'SendEmail',
    retryAfterSeconds: name && THROTTLING.has(name) ? retryAfter(e) : null,
    reply: replyText(e, name, secretAccessKey ?? null),
  };
}

const fieldsOf = (err: unknown): SesErrorFields => (typeof err === 'object' && err !== null ? err : {});
/** SES's error type; a bare Error says nothing. */
const nameOf = (e: SesErrorFields) => (typeof e.name === 'string' && e.name && e.name !== 'Error' ? e.name : null);
/** nodemailer tags every SDK error without a code ESES; a socket error keeps its own. */
const sysCodeOf = (e: SesErrorFields) => (typeof e.code === 'string' && e.code && e.code !== 'ESES' ? e.code : null);

function kindOf(code: string, name: string | null, status: number | null, sysCode: string | null, progress?: SesProgress): FailureKind {
  if (status !== null) {
    // SES said it took the message, and we could not read the rest of the answer.
    if (status >= 200 && status < 300) return 'uncertain';
    if (name && (THROTTLING.has(name) || PROVIDER_ERRORS.has(name) || name.startsWith('AccessDenied'))) return 'provider';
    if (name && MESSAGE_ERRORS.has(name)) return 'message';
    return MESSAGE_STATUSES.has(status) ? 'message' : 'provider';
  }
  if (MESSAGE_CODES.has(code)) return 'message';
  if (progress) return progress.requestWritten ? 'uncertain' : 'provider';
  // Not knowing how far it got, only an error that can only happen while connecting is safe to fail over.
  return (sysCode !== null && MID_REQUEST_CODES.has(sysCode)) || name === 'TimeoutError' ? 'uncertain' : 'provider';
}

/** The SES name as it is (the column holds any SES error name). */
function fitCode(code: string): string {
  return code.slice(0, MAX_CODE);
}

function replyText(e: SesErrorFields, name: string | null, secret: string | null): string | null {
  const message = typeof e.message === 'string' && e.message !== 'UnknownError' ? e.message : '';
  const source = message.trim() || name || '';
  // Redacted before cutting to length, so that a cut cannot hide what to redact.
  const text = secret
    ? redactCredentials(source.replace(/\s+/g, ' ').trim(), { user: null, pass: secret })
    : source.replace(/\s+/g, ' ').trim();
  return text ? text.slice(0, MAX_REPLY) : null;
}

/** A Retry-After (in seconds) on a throttling answer, should SES send one. */
function retryAfter(e: SesErrorFields): number | null {
  const value = e.$response?.headers?.['retry-after'];
  return typeof value === 'string' && /^\d{1,6}$/.test(value.trim()) ? Number(value.trim()) : null;
}
