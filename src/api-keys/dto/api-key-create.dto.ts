import { CharField, MultipleChoiceField } from '../../common/validation/drf-fields.js';
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
}
