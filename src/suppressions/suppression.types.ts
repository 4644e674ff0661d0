export const SUPPRESSION_REASONS = ['manual', 'hard_bounce', 'complaint'] as const;
export type SuppressionReason = (typeof SUPPRESSION_REASONS)[number];

/** A row of `suppressions`. */
export interface SuppressionRow {
  id: number;
  email: string;
  reason: SuppressionReason;
  note: string;
  /** The message whose bounce or complaint caused the entry; null for one added by hand. */
  message_id: string | null;
  created_at: Date;
}

/** A recipient removed from a message because its address is suppressed. */
export interface SuppressedRecipient {
  address: string;
  reason: SuppressionReason;
}
