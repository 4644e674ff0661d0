/** What an active health check of a provider found. */
export interface CheckOutcome {
  healthy: boolean;
  latencyMs: number;
  errorCode: string | null;
  /** The SMTP reply code (or an API provider's HTTP status) of a failure. */
  smtpCode: number | null;
  /** What the provider said (or what went wrong), one line, no secrets. */
  reply: string | null;
}
