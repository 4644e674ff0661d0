/** The configured limits, then Amazon SES's own quota as read at the provider's last check (MaxSendRate, Max24HourSend). */
export type LimitKind = 'minute' | 'day' | 'month' | 'ses_rate' | 'ses_24h';

/** One send granted on a provider: commit it when the provider accepts the message, release it otherwise. */
export interface Reservation {
  readonly id: string;
  readonly providerId: number;
}

export type ReserveResult =
  | { granted: true; reservation: Reservation }
  | {
      granted: false;
      /** The first limit that refused, or `missing` for a deleted or unknown provider. */
      refusedBy: LimitKind | 'missing';
      /** The earliest time all limits could allow a send; null when a limit is 0 (never). */
      notBefore: Date | null;
    };

export interface Usage {
  /** Messages the provider accepted in the current UTC day / month. */
  sentToday: number;
  sentThisMonth: number;
}
