import type { RejectedRecipient } from '../message.types.js';

/** A message ready for a provider: addresses are plain and already validated. */
export interface OutgoingMail {
  messageId: string;
  from: { name: string; address: string };
  replyTo: string | null;
  to: string[];
  cc: string[];
  bcc: string[];
  subject: string;
  text: string | null;
  html: string | null;
  headers: Record<string, string>;
  attachments: { filename: string; content: Buffer; contentType: string | null }[];
}

/** The provider took the message, for at least one recipient. */
export interface Delivered {
  accepted: string[];
  rejected: RejectedRecipient[];
  reply: string | null;
}

/** One provider type's way of handing over a message (smtp now; aws_ses would be another class). */
export interface MailTransport {
  /** Throws nodemailer-shaped errors (`code`, `responseCode`, `command`) on failure. */
  send(mail: OutgoingMail): Promise<Delivered>;
  close(): void;
}
