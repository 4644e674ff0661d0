import { BooleanField, CharField, field, MSG } from '../../common/validation/drf-fields.js';
import { WEBHOOK_EVENT_TYPES } from '../webhook-events.js';

const MAX_URL_LENGTH = 2000;
const EVENT_CHOICES: readonly string[] = ['*', ...WEBHOOK_EVENT_TYPES];

/** An absolute http(s) URL without credentials or a fragment, as DRF's URLField words its errors. */
export function urlProblem(v: unknown): string | null {
  if (typeof v !== 'string') return MSG.notString;
  if (v === '') return MSG.blank;
  if (v.length > MAX_URL_LENGTH) return MSG.maxLength(MAX_URL_LENGTH);
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return 'Enter a valid URL.';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'Enter a valid URL.';
  if (url.username || url.password) return 'The URL may not carry a user name or password: put a token in the path instead.';
  if (url.hash) return 'The URL may not have a fragment (#…).';
  return null;
}

function eventsProblem(v: unknown): string | null {
  if (!Array.isArray(v)) return MSG.list(typeof v === 'string' ? 'str' : typeof v);
  if (v.length === 0) return 'This list may not be empty.';
  const bad = v.find((x) => !EVENT_CHOICES.includes(x as string));
  return bad === undefined ? null : MSG.choice(typeof bad === 'object' ? JSON.stringify(bad) : bad);
}

export class WebhookCreateDto {
  @field('webhookUrl', urlProblem, {
    required: true,
    api: {
      type: String,
      format: 'uri',
      maxLength: MAX_URL_LENGTH,
      description: 'Where events are POSTed (http or https). Checked against the outbound host policy when saved and at every delivery.',
      example: 'https://hooks.example.com/email-events',
    },
  })
  url: string;

  @field(
    'webhookEvents',
    eventsProblem,
    {
      required: true,
      api: {
        type: [String],
        enum: EVENT_CHOICES as string[],
        description: 'The event types to receive; `["*"]` for all of them.',
        example: ['email.sent', 'email.failed', 'email.bounced'],
      },
    },
    (v) => (Array.isArray(v) ? [...new Set(v)] : v),
  )
  events: string[];

  @CharField({ maxLength: 255, allowBlank: true, api: { description: 'What the endpoint is for.', example: 'CRM delivery status' } })
  description?: string;

  @BooleanField({ api: { description: 'Whether events are delivered to it. Default true.', example: true } })
  is_active?: boolean;
}
