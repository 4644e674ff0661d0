import { CharField, ChoiceField, EmailField } from '../../common/validation/drf-fields.js';
import { SUPPRESSION_REASONS, type SuppressionReason } from '../suppression.types.js';

export class SuppressionCreateDto {
  @EmailField({
    required: true,
    api: { description: 'The address no message is sent to (compared case-insensitively).', example: 'bounced@example.com' },
  })
  email: string;

  @ChoiceField(SUPPRESSION_REASONS, {
    required: true,
    api: { description: 'Why: `manual` (added by hand), `hard_bounce` or `complaint`.', example: 'manual' },
  })
  reason: SuppressionReason;

  @CharField({ maxLength: 1000, allowBlank: true, api: { description: 'Free text for people.', example: 'Asked to be removed by phone.' } })
  note?: string;
}
