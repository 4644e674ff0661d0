/** An Amazon SNS HTTP(S) message, as posted to a subscribed endpoint. */
export interface SnsEnvelope {
  Type: 'Notification' | 'SubscriptionConfirmation' | 'UnsubscribeConfirmation';
  MessageId: string;
  TopicArn: string;
  Subject?: string | null;
  Message: string;
  Timestamp: string;
  SignatureVersion: string;
  Signature: string;
  SigningCertURL: string;
  Token?: string;
  SubscribeURL?: string;
}

const TYPES = new Set(['Notification', 'SubscriptionConfirmation', 'UnsubscribeConfirmation']);
const REQUIRED = ['MessageId', 'TopicArn', 'Message', 'Timestamp', 'SignatureVersion', 'Signature', 'SigningCertURL'] as const;

/**
 * The posted body (JSON sent as text/plain, as SNS does, or already parsed) as an SNS message,
 * or a reason it is not one. Only the shape is checked here; the signature is checked after.
 */
export function parseSnsEnvelope(body: unknown): SnsEnvelope | string {
  let value = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      return 'The body is not JSON.';
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'The body is not an SNS message.';
  const m = value as Record<string, unknown>;
  if (typeof m.Type !== 'string' || !TYPES.has(m.Type)) return 'The body is not an SNS message of a known Type.';
  const missing = REQUIRED.filter((k) => typeof m[k] !== 'string' || m[k] === '');
  if (missing.length) return `The SNS message lacks ${missing.join(', ')}.`;
  // SNS's are a UUID and an ARN (a topic name has at most 256 characters); longer ones fit no column.
  if ((m.MessageId as string).length > 255 || (m.TopicArn as string).length > 320)
    return 'The SNS message has an invalid MessageId or TopicArn.';
  if (m.Subject !== undefined && m.Subject !== null && typeof m.Subject !== 'string') return 'The SNS message has an invalid Subject.';
  if (m.Type !== 'Notification' && (typeof m.Token !== 'string' || typeof m.SubscribeURL !== 'string'))
    return 'The SNS message lacks Token or SubscribeURL.';
  return m as unknown as SnsEnvelope;
}
