import { ApiProperty } from '@nestjs/swagger';
import {
  BooleanField,
  CharField,
  EmailField,
  IntegerField,
  MSG,
  field,
  isPlainAddress,
  longestWord,
  type Check,
  type FieldOptions,
} from '../../common/validation/drf-fields.js';

export const MAX_RECIPIENTS = 100;

/** Headers the service writes itself; a caller cannot set or override them. */
export const OWNED_HEADERS = new Set([
  'from',
  'to',
  'cc',
  'bcc',
  'subject',
  'reply-to',
  'sender',
  'message-id',
  'date',
  'return-path',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
  'content-disposition',
  'dkim-signature',
  'received',
]);
const HEADER_NAME = /^[!-9;-~]{1,76}$/;

/**
 * nodemailer folds a header only at whitespace, and a folded line can hold up to 75 characters
 * before a word; mail lines may not exceed 998 (RFC 5322). A longer ASCII word would make a line
 * that servers refuse or break, so it is refused here (see longestWord).
 */
export const MAX_HEADER_WORD = 900;

const addressList: Check = (v) => {
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list)) return MSG.list(typeof v);
  if (list.length > MAX_RECIPIENTS) return `Ensure this field has no more than ${MAX_RECIPIENTS} elements.`;
  const bad = list.findIndex((a) => typeof a !== 'string' || !isPlainAddress(a.trim()));
  return bad === -1 ? null : `Enter a valid email address (item ${bad + 1}).`;
};
const toList = (v: unknown) =>
  typeof v === 'string' ? [v.trim()] : Array.isArray(v) ? v.map((a) => (typeof a === 'string' ? a.trim() : a)) : v;

const AddressListField = (o: FieldOptions) =>
  field(
    'addressList',
    (v) => (Array.isArray(v) && v.length === 0 && o.required ? 'This list may not be empty.' : addressList(v)),
    o,
    toList,
  );

const headersCheck: Check = (v) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'Expected a dictionary of header names to values.';
  for (const [name, value] of Object.entries(v)) {
    if (!HEADER_NAME.test(name)) return `"${name.slice(0, 80)}" is not a valid header name.`;
    if (OWNED_HEADERS.has(name.toLowerCase())) return `The "${name}" header is set by the service.`;
    if (typeof value !== 'string') return `The value of "${name}" must be a string.`;
    if (/[\r\n]/.test(value)) return `The value of "${name}" may not contain line breaks.`;
    if (value.length > 998) return `The value of "${name}" is longer than 998 characters.`;
    if (longestWord(value) > MAX_HEADER_WORD)
      return `The value of "${name}" has a word longer than ${MAX_HEADER_WORD} characters; put spaces in it.`;
  }
  return null;
};

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const attachmentsCheck: Check = (v) => {
  if (!Array.isArray(v)) return MSG.list(typeof v);
  for (const [i, a] of v.entries()) {
    const n = i + 1;
    if (typeof a !== 'object' || a === null || Array.isArray(a)) return `Attachment ${n}: expected an object.`;
    const { filename, content, content_type } = a as Record<string, unknown>;
    if (typeof filename !== 'string' || !filename.trim() || filename.length > 255 || /[\r\n\0/\\]/.test(filename))
      return `Attachment ${n}: filename must be a plain file name of 1 to 255 characters.`;
    if (typeof content !== 'string' || content.length % 4 !== 0 || !BASE64.test(content)) return `Attachment ${n}: content must be base64.`;
    if (
      content_type !== undefined &&
      content_type !== null &&
      (typeof content_type !== 'string' || !/^[\w.+-]+\/[\w.+-]+$/.test(content_type))
    )
      return `Attachment ${n}: content_type must be a MIME type such as "application/pdf".`;
  }
  return null;
};

const dateTimeCheck: Check = (v) =>
  typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)$/.test(v) && !Number.isNaN(Date.parse(v))
    ? null
    : 'Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].';

export class AttachmentDto {
  @ApiProperty({ example: 'invoice.pdf' }) filename: string;
  @ApiProperty({ description: 'The file, base64-encoded.', example: 'JVBERi0xLjQK' }) content: string;
  @ApiProperty({ required: false, nullable: true, example: 'application/pdf' }) content_type?: string | null;
}

export class SendMessageDto {
  @AddressListField({
    required: true,
    api: {
      description: `Recipient address, or a list of them (${MAX_RECIPIENTS} at most across to, cc and bcc).`,
      example: ['alice@example.com'],
      oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    },
  })
  to: string[];

  @AddressListField({ api: { type: [String], example: [] } })
  cc?: string[];

  @AddressListField({ api: { type: [String], example: [] } })
  bcc?: string[];

  @EmailField({
    nullable: true,
    allowBlank: true,
    api: { description: "Default: the provider's reply_to.", example: 'support@example.com' },
  })
  reply_to?: string | null;

  @EmailField({ nullable: true, api: { description: "Default: the chosen provider's from_email.", example: 'billing@example.com' } })
  from_email?: string | null;

  @CharField({
    maxLength: 255,
    allowBlank: true,
    nullable: true,
    singleLine: true,
    api: { description: "Default: the chosen provider's from_name.", example: 'Billing' },
  })
  from_name?: string | null;

  @CharField({
    required: true,
    maxLength: 998,
    singleLine: true,
    maxWordLength: MAX_HEADER_WORD,
    api: { description: `No ASCII word (characters without a space) longer than ${MAX_HEADER_WORD}.`, example: 'Your invoice' },
  })
  subject: string;

  @CharField({
    maxLength: 5_000_000,
    allowBlank: true,
    nullable: true,
    api: { description: 'Plain-text body; `text` and/or `html` is required.', example: 'Hello!' },
  })
  text?: string | null;

  @CharField({ maxLength: 5_000_000, allowBlank: true, nullable: true, api: { description: 'HTML body.', example: '<p>Hello!</p>' } })
  html?: string | null;

  @field('headers', headersCheck, {
    api: {
      description: 'Extra headers. CR/LF and the headers the service owns (From, To, Subject, Message-ID, …) are refused.',
      type: 'object',
      additionalProperties: { type: 'string' },
      example: { 'X-Campaign': 'spring' },
    },
  })
  headers?: Record<string, string>;

  @field('attachments', attachmentsCheck, {
    api: {
      description: 'Files to attach; their total size is limited by SEND_MAX_ATTACHMENT_BYTES (default 10 MB).',
      type: [AttachmentDto],
    },
  })
  attachments?: AttachmentDto[];

  @IntegerField({ min: 1, nullable: true, api: { description: 'Send through this provider only (no failover).', example: null } })
  provider_id?: number | null;

  @field('datetime', dateTimeCheck, {
    nullable: true,
    api: { description: 'Send no earlier than this time (ISO 8601 with a zone).', type: String, format: 'date-time', example: null },
  })
  send_at?: string | null;

  @BooleanField({
    api: { description: 'Answer with the outcome: 200 sent, 502 failed, or 202 if still pending after SEND_WAIT_SECONDS.', example: false },
  })
  wait?: boolean;
}

/** Named request examples for Swagger UI: RFC 2606 addresses only, so Execute never mails a real person. */
export const SEND_MESSAGE_EXAMPLES = {
  text: { summary: 'A plain-text message', value: { to: ['alice@example.com'], subject: 'Your invoice', text: 'Hello Alice!' } },
  'html and attachment': {
    summary: 'HTML with a text alternative and an attachment',
    value: {
      to: ['alice@example.com'],
      cc: ['accounts@example.org'],
      subject: 'Your invoice',
      text: 'Hello Alice! Your invoice is attached.',
      html: '<p>Hello Alice! Your invoice is attached.</p>',
      attachments: [{ filename: 'invoice.pdf', content: 'JVBERi0xLjQK', content_type: 'application/pdf' }],
    },
  },
};
