import { createVerify, type X509Certificate } from 'node:crypto';
import type { SnsEnvelope } from './sns-envelope.js';

/** SignatureVersion 1 signs with SHA1withRSA, 2 with SHA256withRSA; no other is defined. */
export const SIGNATURE_ALGORITHMS: Record<string, string> = { '1': 'RSA-SHA1', '2': 'RSA-SHA256' };

const NOTIFICATION_KEYS = ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'] as const;
const SUBSCRIPTION_KEYS = ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'] as const;

/**
 * The string SNS signs: each key and its value on lines of their own (`Key\nValue\n`), in this
 * order; a Notification's Subject only when it has one.
 */
export function canonicalString(m: SnsEnvelope): string {
  const keys = m.Type === 'Notification' ? NOTIFICATION_KEYS : SUBSCRIPTION_KEYS;
  let out = '';
  for (const key of keys) {
    const value = m[key];
    if (value === undefined || value === null) continue;
    out += `${key}\n${value}\n`;
  }
  return out;
}

/** Whether `m.Signature` is the certificate's signature of the canonical string, by m.SignatureVersion's algorithm. */
export function signatureValid(m: SnsEnvelope, certificate: X509Certificate): boolean {
  const algorithm = SIGNATURE_ALGORITHMS[m.SignatureVersion];
  if (!algorithm) return false;
  try {
    return createVerify(algorithm).update(canonicalString(m), 'utf8').verify(certificate.publicKey, m.Signature, 'base64');
  } catch {
    return false;
  }
}
