import { BooleanField, ChoiceField } from '../../common/validation/drf-fields.js';
import { HEALTH_STATUSES, PRIORITIES, PROVIDER_TYPES, type HealthStatus, type Priority, type ProviderType } from '../provider.constants.js';

// No `example` on a filter: Swagger UI fills examples into the form, and Execute on the untouched
// form would then filter the list down to nothing.
export class ProviderListQuery {
  @ChoiceField(PROVIDER_TYPES, { api: { description: 'Only providers of this type.' } })
  provider_type?: ProviderType;

  @ChoiceField(HEALTH_STATUSES, { api: { description: 'Only providers in this health state.' } })
  health_status?: HealthStatus;

  @BooleanField({ api: { description: 'Only active (`true`) or inactive (`false`) providers.' } })
  is_active?: boolean;

  @ChoiceField(PRIORITIES, { api: { description: 'Only providers of this priority (1 Primary, 2 Secondary, 3 Backup).' } })
  priority?: Priority;
}
