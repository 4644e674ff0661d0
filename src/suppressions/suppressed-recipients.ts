import type { FieldErrors } from '../common/errors/app-error.js';
import type { SuppressedRecipient, SuppressionReason } from './suppression.types.js';

export const RECIPIENT_FIELDS = ['to', 'cc', 'bcc'] as const;
export type Recipients = Record<(typeof RECIPIENT_FIELDS)[number], string[]>;

/** What a message is sent to: the recipients left once the suppressed ones are removed, and those removed. */
export interface Kept {
  recipients: Recipients;
  suppressed: SuppressedRecipient[];
}

/** The recipients kept, or why none is. */
export type Screened = Kept | { refused: FieldErrors };

/**
 * Removes the suppressed addresses (`reasons`, keyed by the address as written in the message)
 * from to, cc and bcc. When none is left the message cannot be sent: the field errors name each
 * field the suppressed addresses came from.
 */
export function removeSuppressed(recipients: Recipients, reasons: ReadonlyMap<string, SuppressionReason>): Screened {
  const kept = { to: [], cc: [], bcc: [] } as Recipients;
  const removed = { to: [], cc: [], bcc: [] } as Recipients;
  const suppressed = new Map<string, SuppressedRecipient>();
  for (const field of RECIPIENT_FIELDS)
    for (const address of recipients[field]) {
      const reason = reasons.get(address);
      if (reason === undefined) kept[field].push(address);
      else {
        removed[field].push(address);
        if (!suppressed.has(address)) suppressed.set(address, { address, reason });
      }
    }
  if (RECIPIENT_FIELDS.some((f) => kept[f].length)) return { recipients: kept, suppressed: [...suppressed.values()] };
  const refused: FieldErrors = {};
  for (const field of RECIPIENT_FIELDS)
    if (removed[field].length) refused[field] = [`Every recipient is suppressed: ${removed[field].join(', ')}`];
  return { refused };
}
