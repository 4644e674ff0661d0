import { ChoiceField, IntegerField, field, type Check } from '../../common/validation/drf-fields.js';
import { MESSAGE_STATUSES, type MessageStatus } from '../message.types.js';

const dateTime: Check = (v) =>
  typeof v === 'string' && !Number.isNaN(Date.parse(v)) && /^\d{4}-\d\d-\d\d/.test(v)
    ? null
    : 'Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].';

export class MessageListQuery {
  @ChoiceField(MESSAGE_STATUSES, { api: { example: 'sent' } })
  status?: MessageStatus;

  @IntegerField({ min: 1, api: { description: 'Messages sent (or last tried) through this provider.', example: 1 } })
  provider_id?: number;

  @field('datetime', dateTime, {
    api: { type: String, format: 'date-time', description: 'Created at or after.', example: '2025-01-07T00:00:00Z' },
  })
  created_since?: string;

  @field('datetime', dateTime, {
    api: { type: String, format: 'date-time', description: 'Created before.', example: '2025-01-08T00:00:00Z' },
  })
  created_until?: string;

  @IntegerField({ min: 1, api: { example: 1 } })
  page?: number;

  @IntegerField({ min: 1, max: 200, api: { description: 'Default 50.', example: 50 } })
  page_size?: number;
}
