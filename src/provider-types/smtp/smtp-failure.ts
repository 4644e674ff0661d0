import { redactAuthArgument } from '../../credentials/credential-redactor.js';
import type { ClassifiedFailure, FailureKind } from '../send-failure.js';

/**
 * How far the send got, which the error cannot tell: a connection dropped or silent while
 * waiting for the RCPT reply and one dropped or silent after the final "." produce the very same
 * error (ECONNECTION or ESOCKET/ECONNRESET or ETIMEDOUT/SOCKET_TIMEOUT, command 'CONN', no
 * reply). The sender knows it: nodemailer reads the message stream only into the DATA stream,
 * so the stream's end means the final "." was written.
 */
export interface SendProgress {
  messageWritten: boolean;
}

interface NodemailerFields {
  code?: unknown;
  responseCode?: unknown;
  command?: unknown;
  permanent?: unknown;
  response?: unknown;
  message?: unknown;
  timeoutType?: unknown;
  originalCode?: unknown;
}

/** Waits that only happen while setting the session up. */
const SETUP_TIMEOUTS = new Set(['CONNECT_TIMEOUT', 'GREETING_TIMEOUT', 'UPGRADE_TIMEOUT']);
/** Socket errors that can end a session at any point, after the message too. */
const MID_SESSION_SOCKET_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ETIMEDOUT']);
/** Problems with the message itself, found before a byte went out: every provider would fail the same way. */
const MESSAGE_CODES = new Set(['ESTREAM', 'EFILEACCESS', 'EURLACCESS', 'EFETCH']);
/** RFC 4954 replies about authentication: the provider's account or settings, whatever command drew them. */
const AUTH_REPLIES = new Set([530, 534, 535, 538]);
/** The commands whose permanent rejection is about the message: its recipients or its content. */
const MESSAGE_COMMANDS = new Set(['RCPT TO', 'DATA']);

const MAX_REPLY = 300;

/**
 * How the SMTP type classifies a failed send (see ClassifiedFailure for the kinds), decided from
 * the fields nodemailer puts on its errors (`code`, `responseCode`, `command`, `permanent`, and
 * `timeoutType`/`originalCode` that only say which wait or which socket error it was), never from
 * the message text. The shapes these rules rely on were recorded from nodemailer 10.6 against
 * smtp-server and raw sockets on loopback (see smtp-failure.spec.ts).
 */
export function classifySmtpFailure(err: unknown, progress?: SendProgress): ClassifiedFailure {
  const e: NodemailerFields = typeof err === 'object' && err !== null ? err : {};
  const code = typeof e.code === 'string' && e.code ? e.code : 'UNKNOWN';
  const responseCode = typeof e.responseCode === 'number' && Number.isInteger(e.responseCode) ? e.responseCode : null;
  const command = typeof e.command === 'string' && e.command ? e.command : null;
  const reply = replyText(e);
  return {
    kind: kindOf(e, code, responseCode, command, progress),
    code,
    responseCode,
    command,
    retryAfterSeconds: responseCode !== null && responseCode >= 400 && responseCode < 500 ? retryAfterSeconds(reply) : null,
    reply,
  };
}

function kindOf(
  e: NodemailerFields,
  code: string,
  responseCode: number | null,
  command: string | null,
  progress?: SendProgress,
): FailureKind {
  if (responseCode !== null && responseCode >= 400) {
    // The server answered, so its reply settles it, whatever was sent before.
    if (responseCode < 500 || AUTH_REPLIES.has(responseCode)) return 'provider';
    const permanent = typeof e.permanent === 'boolean' ? e.permanent : responseCode !== 503;
    // EENVELOPE on RCPT TO means every recipient was refused; nodemailer reports a 4xx one if any.
    return permanent && command !== null && MESSAGE_COMMANDS.has(command) ? 'message' : 'provider';
  }
  // No reply after the last byte of the message went out: the server may have it.
  if (progress?.messageWritten) return 'uncertain';
  if (MESSAGE_CODES.has(code)) return 'message';
  // Refused by nodemailer before MAIL FROM: no recipient, an invalid address, an empty message.
  if ((code === 'EENVELOPE' || code === 'EMESSAGE') && command === 'API') return 'message';
  if (isMidSessionLoss(e, code, command)) return progress ? 'provider' : 'uncertain';
  return 'provider';
}

/** A drop or a silence that may come before or after the final "." alike. */
function isMidSessionLoss(e: NodemailerFields, code: string, command: string | null): boolean {
  switch (code) {
    case 'ECONNECTION':
      // Without a command it is the pool giving up on a message it never sent (or a closed pool).
      return command === 'CONN';
    case 'ETIMEDOUT':
      return !(typeof e.timeoutType === 'string' && SETUP_TIMEOUTS.has(e.timeoutType));
    case 'ESOCKET':
      // ECONNREFUSED, TLS and certificate errors only happen while connecting.
      return typeof e.originalCode !== 'string' || MID_SESSION_SOCKET_ERRORS.has(e.originalCode);
    case 'EABORT':
    case 'UNKNOWN':
      return true;
    default:
      return false;
  }
}

function replyText(e: NodemailerFields): string | null {
  const source = typeof e.response === 'string' && e.response.trim() ? e.response : typeof e.message === 'string' ? e.message : '';
  const text = redactAuthArgument(source.replace(/\s+/g, ' ').trim());
  return text ? text.slice(0, MAX_REPLY) : null;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600 };

/** "try again in 30 seconds", "retry in 5 minutes", "try again after 2 hours": the one place reply text is read. */
function retryAfterSeconds(reply: string | null): number | null {
  if (!reply) return null;
  const match = /\b(?:try\s+again|retry)\b\D{0,20}?(\d{1,6})\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hr|hrs|hours?)\b/i.exec(reply);
  if (!match) return null;
  return Number(match[1]) * UNIT_SECONDS[match[2][0].toLowerCase()];
}
