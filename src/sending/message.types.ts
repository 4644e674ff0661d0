import type { RejectedRecipient } from '../provider-types/mail-transport.js';
import type { SuppressedRecipient } from '../suppressions/suppression.types.js';

export type { RejectedRecipient };
export const MESSAGE_STATUSES = ['scheduled', 'queued', 'sending', 'sent', 'failed'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

export type AttemptOutcome = 'accepted' | 'provider_failure' | 'message_rejected' | 'uncertain';

export interface Attachment {
  filename: string;
  /** base64 */
  content: string;
  content_type: string | null;
}

/** A row of `messages`, as the repository returns it. */
export interface MessageRow {
  id: string;
  api_key_id: number | null;
  idempotency_key: string | null;
  request_hash: string | null;
  status: MessageStatus;
  is_test: boolean;
  message_id: string;
  from_email: string | null;
  from_name: string | null;
  reply_to: string | null;
  to_addresses: string[];
  cc_addresses: string[];
  bcc_addresses: string[];
  subject: string;
  text_body: string | null;
  html_body: string | null;
  headers: Record<string, string>;
  attachments: Attachment[];
  pinned_provider_id: number | null;
  preferred_provider_id: number | null;
  provider_id: number | null;
  send_at: Date | null;
  next_attempt_at: Date;
  attempt_count: number;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  /** The current claim's fence: only its holder may write a final state. */
  lease_token: string | null;
  outcome_uncertain: boolean;
  /** Hand-overs that ended with an unknown outcome. */
  uncertain_count: number;
  awaiting_provider: boolean;
  rejected_recipients: RejectedRecipient[];
  /** Removed at /send/ because they are suppressed; never sent to. */
  suppressed_recipients: SuppressedRecipient[];
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
  sent_at: Date | null;
  failed_at: Date | null;
  /** When message retention dropped text_body, html_body, headers and attachments; null while kept. */
  body_dropped_at: Date | null;
}

export interface AttemptRow {
  id: string;
  message_id: string;
  provider_id: number;
  started_at: Date;
  response_time_ms: number;
  outcome: AttemptOutcome;
  smtp_code: number | null;
  smtp_reply: string | null;
  error_code: string | null;
  rejected_recipients: RejectedRecipient[];
  /** The provider's own id for the message (SES's MessageId); null when it gave none. */
  provider_message_id: string | null;
}

/** What the API stores for a new message. */
export type NewMessage = Pick<
  MessageRow,
  | 'api_key_id'
  | 'idempotency_key'
  | 'request_hash'
  | 'status'
  | 'is_test'
  | 'message_id'
  | 'from_email'
  | 'from_name'
  | 'reply_to'
  | 'to_addresses'
  | 'cc_addresses'
  | 'bcc_addresses'
  | 'suppressed_recipients'
  | 'subject'
  | 'text_body'
  | 'html_body'
  | 'headers'
  | 'attachments'
  | 'pinned_provider_id'
  | 'send_at'
  | 'next_attempt_at'
> & { lease_owner?: string | null; lease_expires_at?: Date | null; lease_token?: string | null };

/** One claim of one message: the fencing token that claim was given. */
export interface Lease {
  id: string;
  token: string;
}

export function leaseOf(row: Pick<MessageRow, 'id' | 'lease_token'>): Lease {
  if (row.lease_token === null) throw new Error(`message ${row.id} is not claimed`);
  return { id: row.id, token: String(row.lease_token) };
}

export type NewAttempt = Omit<AttemptRow, 'id'>;

/** A message's final state for this claim: delivered, failed for good, or back to the queue. */
export type Finish =
  | { status: 'sent'; providerId: number; rejected: RejectedRecipient[] }
  | { status: 'failed'; providerId: number | null; error: string; uncertain?: boolean }
  | {
      status: 'queued';
      at: Date;
      error: string | null;
      /** Tried first next time (after an outcome left unknown). */
      preferredProviderId: number | null;
      uncertain?: boolean;
      /** No provider could take it: it moves forward as soon as one recovers. */
      awaitingProvider?: boolean;
    };

/** Everything one claim of one message ends with, as the batched final write takes it. */
export interface BatchOutcome {
  lease: Lease;
  finish: Finish;
  /**
   * The limits reservations this claim took. One counts as a send (`counts`: the provider took
   * the message, or may have) only if this claim's write wins; otherwise it is given back.
   */
  reservations: { reservationId: string; counts: boolean }[];
  /** The attempts made under this claim, recorded with the outcome. */
  attempts: NewAttempt[];
  /** Whose result this is: counted as a stale result of that provider if the write loses. */
  providerId: number | null;
}
