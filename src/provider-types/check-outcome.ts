/** What SESv2 GetAccount answered: the account's state and sending quota (null where SES gave nothing). */
export interface SesAccountState {
  sendingEnabled: boolean;
  enforcementStatus: string | null;
  /** False while the account is in the sandbox. */
  productionAccessEnabled: boolean | null;
  /** Messages per rolling 24 hours; -1 means unlimited. */
  max24HourSend: number | null;
  /** Messages per second. */
  maxSendRate: number | null;
  /** Sent by the whole account (every sender on it) in the last 24 hours. */
  sentLast24Hours: number | null;
}

/** What a provider type learnt about the provider besides healthy or not; recorded with the check and on the provider. */
export interface CheckDetails {
  sesAccount?: SesAccountState;
}

/** What an active health check of a provider found. */
export interface CheckOutcome {
  healthy: boolean;
  latencyMs: number;
  errorCode: string | null;
  /** The SMTP reply code (or an API provider's HTTP status) of a failure. */
  smtpCode: number | null;
  /** What the provider said (or what went wrong), one line, no secrets. */
  reply: string | null;
  /** Type-specific findings, when the check got that far (an unhealthy outcome may have them too). */
  details?: CheckDetails;
}
