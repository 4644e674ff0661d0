import { PageQuery } from '../../common/pagination.js';
import { CharField, ChoiceField } from '../../common/validation/drf-fields.js';
import { SUPPRESSION_REASONS, type SuppressionReason } from '../suppression.types.js';

// No `example` on a filter: Swagger UI would fill it into the form and filter the list down to nothing.
export class SuppressionListQuery extends PageQuery {
  @CharField({ maxLength: 320, allowBlank: true, api: { description: 'Only this address (case-insensitive exact match).' } })
  email?: string;

  @ChoiceField(SUPPRESSION_REASONS, { api: { description: 'Only entries with this reason.' } })
  reason?: SuppressionReason;
}
