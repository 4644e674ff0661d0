import { PageQuery } from '../../common/pagination.js';
import { ChoiceField, IntegerField, field, type Check } from '../../common/validation/drf-fields.js';
import { MESSAGE_STATUSES, type MessageStatus } from '../message.types.js';

const dateTime: Check = (v) =>
  typeof v === 'string' && !Number.isNaN(Date.parse(v)) && /^\d{4}-\d\d-\d\d/.test(v)
    ? null
    : 'Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].';

// No `example` on a filter: Swagger UI fills examples into the form, and Execute on the untouched
// form would then filter the list down to nothing.
export class MessageListQuery extends PageQuery {
  @ChoiceField(MESSAGE_STATUSES, { api: { description: 'Only messages in this state.' } })
  status?: MessageStatus;

  @IntegerField({ min: 1, api: { description: 'Messages sent (or last tried) through this provider.' } })
  provider_id?: number;

  @field('datetime', dateTime, {
    api: { type: String, format: 'date-time', description: 'Created at or after this time, such as `2025-01-07T00:00:00Z`.' },
  })
  created_since?: string;

  @field('datetime', dateTime, {
    api: { type: String, format: 'date-time', description: 'Created before this time, such as `2025-01-08T00:00:00Z`.' },
  })
  created_until?: string;
}
