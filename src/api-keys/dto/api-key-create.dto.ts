import { CharField, DateTimeField, MultipleChoiceField } from '../../common/validation/drf-fields.js';
import { SCOPES, type Scope } from '../../common/auth/scopes.js';

export class ApiKeyCreateDto {
  @CharField({
    required: true,
    maxLength: 100,
    api: { description: 'What the key is for; shown in listings.', example: 'billing-service' },
  })
  name: string;

  @MultipleChoiceField(SCOPES, {
    required: true,
    api: { description: 'What the key may do. `admin` implies every other scope.', example: ['send'] },
  })
  scopes: Scope[];

  @DateTimeField({
    nullable: true,
    future: true,
    api: {
      // No fixed date as the example: it would pass one day and make the untouched form a 400.
      description:
        'When the key stops working (ISO 8601 with a zone, in the future, such as `2030-12-31T23:59:59Z`). Omitted or null: never.',
      example: null,
    },
  })
  expires_at?: string | null;
}
