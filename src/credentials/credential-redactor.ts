/** The SMTP login a reply must not give back: the username is not secret, its encodings are redacted anyway. */
export interface SmtpLogin {
  user: string | null;
  pass: string | null;
}

export const REDACTED = '[redacted]';

/** A run of base64 characters (standard alphabet, optional padding). */
const BASE64_RUN = /[A-Za-z0-9+/]{2,}={0,2}/g;
/** A piece this long of what we sent cannot be a word of the server's by chance. */
const MIN_PIECE = 8;
/** Shorter passwords are not looked for inside decoded text (random bytes would match). */
const MIN_DECODED_PASSWORD_BYTES = 4;

const base64 = (s: string) => Buffer.from(s, 'utf8').toString('base64').replace(/=+$/, '');

/**
 * Removes from a server's reply (or an error's text) the credentials in every form we sent them
 * in — the password itself, base64 of the AUTH PLAIN argument "\0user\0pass", and AUTH LOGIN's
 * base64(user) and base64(pass) — padded or not, whole or cut short, and any base64 run that
 * decodes to something holding the password. Then the `AUTH <mech> [redacted]` rule.
 */
export function redactSmtpText(text: string, login?: SmtpLogin): string {
  return redactAuthArgument(login ? redactCredentials(text, login) : text);
}

export function redactCredentials(text: string, login: SmtpLogin): string {
  const user = login.user ?? '';
  const pass = login.pass ?? '';
  if (!user && !pass) return text;
  const encoded = [
    ...(pass ? [base64(pass), base64(`\0${user}\0${pass}`), base64(`${user}\0${pass}`)] : []),
    ...(user ? [base64(user)] : []),
  ];
  const passBytes = Buffer.from(pass, 'utf8');
  const isSecret = (run: string): boolean => {
    const bare = run.replace(/=+$/, '');
    return (
      encoded.some((form) => bare === form || sharesPiece(bare, form)) ||
      (passBytes.length >= MIN_DECODED_PASSWORD_BYTES && decodesToPassword(bare, passBytes))
    );
  };
  // Spans, merged, rather than replacements one after another: a later pass would cut up (or
  // miss) what an earlier one left, say a password that is also part of a base64 run.
  const spans: [number, number][] = [];
  if (pass) for (let i = text.indexOf(pass); i !== -1; i = text.indexOf(pass, i + 1)) spans.push([i, i + pass.length]);
  for (const m of text.matchAll(BASE64_RUN)) if (isSecret(m[0])) spans.push([m.index, m.index + m[0].length]);
  if (!spans.length) return text;
  spans.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [start, end] of spans) {
    const last = merged.at(-1);
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  let out = '';
  let at = 0;
  for (const [start, end] of merged) {
    out += text.slice(at, start) + REDACTED;
    at = end;
  }
  return out + text.slice(at);
}

/** Whole, cut short, or with text of the server's around it: any piece of MIN_PIECE characters. */
function sharesPiece(run: string, form: string): boolean {
  for (let i = 0; i + MIN_PIECE <= run.length; i++) if (form.includes(run.slice(i, i + MIN_PIECE))) return true;
  return false;
}

/** At each of the four alignments, as the run may start in the middle of a base64 quantum. */
function decodesToPassword(run: string, pass: Buffer): boolean {
  for (let skip = 0; skip < 4 && run.length - skip >= 4; skip++) if (Buffer.from(run.slice(skip), 'base64').includes(pass)) return true;
  return false;
}

/**
 * A server may echo the command it refused ("501 Syntax: AUTH PLAIN dXNlcjpwYXNz"): keep the
 * mechanism, drop whatever followed it, whoever's credentials they are.
 */
export function redactAuthArgument(text: string): string {
  return text.replace(/\bAUTH\s+([A-Za-z0-9_-]+)\s+\S.*$/is, (_all, mechanism: string) => `AUTH ${mechanism} ${REDACTED}`);
}

/**
 * Rewrites, in place, the text fields of a nodemailer error (`message`, `response`, `stack`,
 * and its causes') so that whatever later reads, stores or logs it sees no credentials.
 */
export function scrubCredentials<T>(err: T, login: SmtpLogin, depth = 0): T {
  if (typeof err !== 'object' || err === null) return err;
  const fields = err as Record<string, unknown>;
  for (const key of ['message', 'response', 'stack'])
    if (typeof fields[key] === 'string') {
      try {
        fields[key] = redactCredentials(fields[key], login);
      } catch {
        // A read-only field: nothing of ours wrote it.
      }
    }
  if (depth < 3 && fields.cause !== undefined) scrubCredentials(fields.cause, login, depth + 1);
  return err;
}
