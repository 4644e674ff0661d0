/**
 * What a failed send means for the message, whatever the provider type:
 * - `provider`: the message was not handed over; the next provider may take it.
 * - `message`: the provider refused this message for good; no other provider will do better.
 * - `uncertain`: the hand-over ended without an answer after the provider may have taken it;
 *   only this provider can be tried again, later, with the same Message-ID.
 */
export type FailureKind = 'provider' | 'message' | 'uncertain';

export interface ClassifiedFailure {
  kind: FailureKind;
  /** A stable code to branch on: nodemailer's (ECONNECTION, ETIMEDOUT, EENVELOPE, …), an SES error name, or 'UNKNOWN'. */
  code: string;
  /** The SMTP reply code, or the HTTP status of an API provider's answer. */
  responseCode: number | null;
  /** The SMTP command in flight ('MAIL FROM', 'RCPT TO', 'DATA', 'AUTH PLAIN', 'CONN', …), or the API operation. */
  command: string | null;
  /** A wait the provider asked for ("try again in 30 seconds"). */
  retryAfterSeconds: number | null;
  /** What the provider said (else the error's message), one line, at most 300 characters, no credentials. */
  reply: string | null;
}

/** Thrown by a MailTransport: the failure, already classified by the provider type that knows its errors. */
export class SendFailure extends Error {
  constructor(readonly failure: ClassifiedFailure) {
    super(describeFailure(failure));
    this.name = 'SendFailure';
  }
}

/** A failure outside any provider type's knowledge (say, a transport that could not be built): the provider's, so the next one is tried. */
export function failureOf(err: unknown): ClassifiedFailure {
  if (err instanceof SendFailure) return err.failure;
  const code = (err as { code?: unknown } | null)?.code;
  return {
    kind: 'provider',
    code: typeof code === 'string' && code ? code.slice(0, 64) : 'UNKNOWN',
    responseCode: null,
    command: null,
    retryAfterSeconds: null,
    reply: err instanceof Error ? err.message.replace(/\s+/g, ' ').slice(0, 300) : null,
  };
}

export function describeFailure(f: ClassifiedFailure): string {
  return [f.code, f.responseCode, f.reply].filter((x) => x !== null && x !== undefined && x !== '').join(' ');
}
