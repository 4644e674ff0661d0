/** A recipient the provider refused while taking the message for the others. */
export interface RejectedRecipient {
  address: string;
  smtp_code: number | null;
  smtp_reply: string | null;
}

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
  /** The provider's own id for the message (SES's MessageId), by which its later reports name it. */
  providerMessageId?: string | null;
}

/** One provider type's way of handing over a message. */
export interface MailTransport {
  /** Throws SendFailure (classified by the provider type) when the provider did not take it. */
  send(mail: OutgoingMail): Promise<Delivered>;
  close(): void;
}
