/** A recipient a report names; bounces add the DSN status and what the receiving server answered. */
export interface FeedbackRecipient {
  address: string;
  status?: string | null;
  diagnostic_code?: string | null;
}

/** What SES reported about one message it sent: a bounce, a complaint or a delivery. */
export interface SesFeedback {
  type: 'bounce' | 'complaint' | 'delivery';
  /** SES's MessageId of the message (`mail.messageId`). */
  sesMessageId: string;
  /** Bounces: `Permanent/General`; complaints: the feedback type (`abuse`), if any. */
  subtype: string | null;
  recipients: FeedbackRecipient[];
  occurredAt: Date;
  /** SES's bounce, complaint or delivery object, kept as reported. */
  detail: Record<string, unknown>;
  /** Only a permanent bounce (`hard_bounce`) or a complaint suppresses its recipients. */
  suppressAs: 'hard_bounce' | 'complaint' | null;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/**
 * The feedback in an SNS Notification's Message: SES notifications (`notificationType`) and
 * configuration set event publishing (`eventType`) alike. Null for anything else (other event
 * types such as Send or Open, SES's setup notification, text that is not JSON).
 */
export function parseSesFeedback(message: string, fallbackTime: Date): SesFeedback | null {
  let m: unknown;
  try {
    m = JSON.parse(message);
  } catch {
    return null;
  }
  if (!isObject(m) || !isObject(m.mail)) return null;
  const sesMessageId = text(m.mail.messageId);
  const kind = text(m.notificationType) ?? text(m.eventType);
  if (!sesMessageId) return null;
  const at = (v: unknown) => {
    const t = typeof v === 'string' ? Date.parse(v) : NaN;
    return Number.isNaN(t) ? fallbackTime : new Date(t);
  };
  if (kind === 'Bounce' && isObject(m.bounce)) {
    const b = m.bounce;
    const recipients = list(b.bouncedRecipients).map((r) => ({
      address: text(r.emailAddress) ?? '',
      status: text(r.status),
      diagnostic_code: text(r.diagnosticCode),
    }));
    const type = text(b.bounceType);
    return {
      type: 'bounce',
      sesMessageId,
      subtype: [type, text(b.bounceSubType)].filter(Boolean).join('/').slice(0, 64) || null,
      recipients: recipients.filter((r) => r.address),
      occurredAt: at(b.timestamp),
      detail: b,
      suppressAs: type === 'Permanent' ? 'hard_bounce' : null,
    };
  }
  if (kind === 'Complaint' && isObject(m.complaint)) {
    const c = m.complaint;
    return {
      type: 'complaint',
      sesMessageId,
      subtype: (text(c.complaintFeedbackType) ?? text(c.complaintSubType))?.slice(0, 64) ?? null,
      recipients: addresses(list(c.complainedRecipients).map((r) => r.emailAddress)),
      occurredAt: at(c.timestamp),
      detail: c,
      suppressAs: 'complaint',
    };
  }
  if (kind === 'Delivery' && isObject(m.delivery)) {
    const d = m.delivery;
    return {
      type: 'delivery',
      sesMessageId,
      subtype: null,
      recipients: addresses(Array.isArray(d.recipients) ? d.recipients : []),
      occurredAt: at(d.timestamp),
      detail: d,
      suppressAs: null,
    };
  }
  return null;
}

function list(v: unknown): Json[] {
  return Array.isArray(v) ? v.filter(isObject) : [];
}

function addresses(values: unknown[]): FeedbackRecipient[] {
  return values.map(text).flatMap((address) => (address ? [{ address }] : []));
}
