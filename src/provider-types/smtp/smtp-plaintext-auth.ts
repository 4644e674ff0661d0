/** The stable error code of a send or check refused because the password would go in clear. */
export const PLAINTEXT_AUTH_CODE = 'EPLAINTEXT_AUTH';

/** The 400 (`non_field_errors`) for a provider that would be saved that way. */
export const PLAINTEXT_AUTH_FIELD_ERROR =
  'An SMTP password is sent only over TLS: set smtp_use_tls (STARTTLS) or smtp_use_ssl (implicit TLS), or remove smtp_password.';

/** What a refused send or check says instead of connecting. */
export const PLAINTEXT_AUTH_REFUSAL =
  'Not connecting: the SMTP password would be sent in clear (smtp_use_tls and smtp_use_ssl are both false). Turn TLS on for this provider.';

/**
 * Whether a provider would send its password without TLS. Without either flag nodemailer still
 * upgrades when the server offers STARTTLS, but anyone on the path can strip the offer, so only
 * the flags count.
 */
export function passwordInClear(p: {
  hasSmtpPassword?: boolean | null;
  smtpUseTls?: boolean | null;
  smtpUseSsl?: boolean | null;
}): boolean {
  return Boolean(p.hasSmtpPassword) && !p.smtpUseTls && !p.smtpUseSsl;
}
