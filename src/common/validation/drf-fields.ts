import { applyDecorators } from '@nestjs/common';
import { ApiProperty, type ApiPropertyOptions } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ValidateBy, ValidateIf, isEmail, isFQDN, isIP } from 'class-validator';

/**
 * Field decorators that validate like Django REST framework's fields and word their errors the
 * same way, because existing clients show these messages to people. Each field yields at most
 * one message, and also documents itself in the OpenAPI spec.
 */

export const MSG = {
  required: 'This field is required.',
  nullNotAllowed: 'This field may not be null.',
  blank: 'This field may not be blank.',
  notString: 'Not a valid string.',
  maxLength: (n: number) => `Ensure this field has no more than ${n} characters.`,
  integer: 'A valid integer is required.',
  minValue: (n: number) => `Ensure this value is greater than or equal to ${n}.`,
  maxValue: (n: number) => `Ensure this value is less than or equal to ${n}.`,
  boolean: 'Must be a valid boolean.',
  choice: (v: unknown) => `"${String(v)}" is not a valid choice.`,
  email: 'Enter a valid email address.',
  host: 'Enter a valid hostname or IP address.',
  lineBreak: 'This field may not contain line breaks.',
  list: (type: string) => `Expected a list of items but got type "${type}".`,
  nullCharacters: 'Null characters are not allowed.',
  surrogate: (codeUnit: number) => `Surrogate characters are not allowed: U+${codeUnit.toString(16).toUpperCase()}.`,
  nesting: (levels: number) => `Ensure this field has no more than ${levels} levels of nesting.`,
  maxWordLength: (n: number) => `Ensure no word in this field has more than ${n} characters.`,
} as const;

// A UTF-16 surrogate without its other half: no character, and no UTF-8 form for PostgreSQL.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * DRF's ProhibitNullCharactersValidator and ProhibitSurrogateCharactersValidator, which every
 * CharField runs: PostgreSQL stores neither U+0000 nor a lone surrogate in text or jsonb.
 */
export function textProblem(v: string): string | null {
  if (v.includes('\0')) return MSG.nullCharacters;
  const lone = LONE_SURROGATE.exec(v);
  return lone ? MSG.surrogate(lone[0].charCodeAt(0)) : null;
}

/** Returns the error message for a value, or null when it is valid. */
export type Check = (value: unknown) => string | null;

export interface FieldOptions {
  /** Omitting the field is an error ("This field is required."). */
  required?: boolean;
  /** `null` is accepted (and stored as such). */
  nullable?: boolean;
  api: ApiPropertyOptions;
}

/** A field validated by `check`; the building block of the fields below, for one-off fields elsewhere. */
export function field(name: string, check: Check, opts: FieldOptions, transform?: (value: unknown) => unknown) {
  // Presence is checked here rather than with IsDefined, which class-validator runs even under
  // PartialType's conditional and would make every field of a PATCH required.
  const full: Check = (v) => {
    if (v === undefined) return opts.required ? MSG.required : null;
    if (v === null) return opts.nullable ? null : MSG.nullNotAllowed;
    return check(v);
  };
  return applyDecorators(
    ApiProperty({ required: !!opts.required, nullable: !!opts.nullable, ...opts.api } as ApiPropertyOptions),
    ...(transform ? [Transform(({ value }) => transform(value))] : []),
    ...(opts.required ? [] : [ValidateIf((_o, v) => v !== undefined)]),
    ValidateBy({
      name,
      validator: {
        validate: (value) => full(value) === null,
        defaultMessage: (args) => full(args?.value) ?? '',
      },
    }),
  );
}

// --- strings --------------------------------------------------------------------------------

export interface CharOptions extends FieldOptions {
  maxLength: number;
  allowBlank?: boolean;
  /** Reject CR and LF: the value ends up in a mail header. */
  singleLine?: boolean;
  /** Longest word (see longestWord) a mail header can carry. */
  maxWordLength?: number;
  /** A rule of the field's own, run on a string that passed the others. */
  check?: (v: string) => string | null;
}

/**
 * The longest run of printable ASCII characters without a space: what a mail header carries as
 * it is and can fold only around. Other text is sent as encoded words, which fold anywhere.
 */
export function longestWord(v: string): number {
  let longest = 0;
  for (const [word] of v.matchAll(/[!-~]+/g)) longest = Math.max(longest, word.length);
  return longest;
}

const trim = (v: unknown) => (typeof v === 'string' ? v.trim() : v);

function charCheck(o: CharOptions, extra?: Check): Check {
  const own = o.check;
  return (v) => {
    if (typeof v !== 'string') return MSG.notString;
    if (v === '') return o.allowBlank ? null : MSG.blank;
    if (v.length > o.maxLength) return MSG.maxLength(o.maxLength);
    if (o.singleLine && /[\r\n]/.test(v)) return MSG.lineBreak;
    if (o.maxWordLength !== undefined && longestWord(v) > o.maxWordLength) return MSG.maxWordLength(o.maxWordLength);
    return (extra ? extra(v) : null) ?? (own ? own(v) : null);
  };
}

export const CharField = (o: CharOptions) =>
  field('drfChar', charCheck(o), { ...o, api: { type: String, maxLength: o.maxLength, ...o.api } }, trim);

/** A host name or IP literal, as given to the SMTP client. */
export const HostField = (o: CharOptions) =>
  field(
    'drfHost',
    charCheck(o, (v) => (isIP(v as string) || isFQDN(v as string, { require_tld: false, allow_underscores: true }) ? null : MSG.host)),
    { ...o, api: { type: String, maxLength: o.maxLength, ...o.api } },
    trim,
  );

// Characters that make an address string parse as something else in nodemailer (FINDINGS.md).
const ADDRESS_UNSAFE = /[\r\n<>;:,()"\s\\]/;

/** A plain address nodemailer cannot misread as a list or a display name. */
export function isPlainAddress(v: string): boolean {
  // isEmail throws URIError on a lone surrogate.
  return v.length <= 254 && !ADDRESS_UNSAFE.test(v) && textProblem(v) === null && isEmail(v);
}

export const EmailField = (o: FieldOptions & { allowBlank?: boolean }) =>
  field(
    'drfEmail',
    (v) => {
      if (typeof v !== 'string') return MSG.notString;
      if (v === '') return o.allowBlank ? null : MSG.blank;
      if (!isPlainAddress(v)) return MSG.email;
      return null;
    },
    { ...o, api: { type: String, format: 'email', maxLength: 254, ...o.api } },
    trim,
  );

// --- numbers and flags ------------------------------------------------------------------------

export interface IntegerOptions extends FieldOptions {
  min?: number;
  max?: number;
}

/** Integers, also from strings of digits as an HTML form sends them, like DRF. */
export const IntegerField = (o: IntegerOptions) =>
  field(
    'drfInteger',
    (v) => {
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) return MSG.integer;
      if (o.min !== undefined && v < o.min) return MSG.minValue(o.min);
      if (o.max !== undefined && v > o.max) return MSG.maxValue(o.max);
      return null;
    },
    { ...o, api: { type: 'integer', minimum: o.min, maximum: o.max, ...o.api } },
    (v) => (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v),
  );

const TRUE_VALUES = new Set<unknown>([true, 'true', 'True', 'TRUE', '1', 1, 'yes', 'on']);
const FALSE_VALUES = new Set<unknown>([false, 'false', 'False', 'FALSE', '0', 0, 'no', 'off']);

export function toBoolean(v: unknown): unknown {
  if (TRUE_VALUES.has(v)) return true;
  if (FALSE_VALUES.has(v)) return false;
  return v;
}

export const BooleanField = (o: FieldOptions) =>
  field('drfBoolean', (v) => (typeof v === 'boolean' ? null : MSG.boolean), { ...o, api: { type: Boolean, ...o.api } }, toBoolean);

/** One of a fixed set; numeric choices also accept their string form. */
export const ChoiceField = (choices: readonly (string | number)[], o: FieldOptions) => {
  const numeric = typeof choices[0] === 'number';
  return field(
    'drfChoice',
    (v) => (choices.includes(v as string | number) ? null : MSG.choice(typeof v === 'object' ? JSON.stringify(v) : v)),
    { ...o, api: { enum: choices as (string | number)[], type: numeric ? 'integer' : String, ...o.api } },
    numeric ? (v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v) : undefined,
  );
};

/** A non-empty list of distinct values from a fixed set. */
export const MultipleChoiceField = (choices: readonly string[], o: FieldOptions) =>
  field(
    'drfMultipleChoice',
    (v) => {
      if (!Array.isArray(v)) return MSG.list(typeof v === 'string' ? 'str' : typeof v);
      if (v.length === 0) return 'This selection may not be empty.';
      const bad = v.find((x) => !choices.includes(x as string));
      return bad === undefined ? null : MSG.choice(typeof bad === 'object' ? JSON.stringify(bad) : bad);
    },
    { ...o, api: { type: [String], enum: choices as string[], ...o.api } },
    (v) => (Array.isArray(v) ? [...new Set(v)] : v),
  );

// --- dates ----------------------------------------------------------------------------------

const DATE_TIME_FORMAT = 'Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].';
// The zone is required: a time without one would be read in whatever zone the server runs in.
const DATE_TIME = /^(\d{4})-(\d\d)-(\d\d)T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

/** An ISO 8601 date-time with a zone, on a day the calendar has; null otherwise. */
export function parseDateTime(v: unknown): Date | null {
  const m = typeof v === 'string' ? DATE_TIME.exec(v) : null;
  if (!m) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day) return null;
  return new Date(v as string);
}

/** A date-time as DRF's DateTimeField reads it; `future` refuses one that is not after now. */
export const DateTimeField = (o: FieldOptions & { future?: boolean }) =>
  field(
    'drfDateTime',
    (v) => {
      const at = parseDateTime(v);
      if (!at) return DATE_TIME_FORMAT;
      if (o.future && at.getTime() <= Date.now()) return 'Ensure this date-time is in the future.';
      return null;
    },
    { ...o, api: { type: String, format: 'date-time', ...o.api } },
  );
