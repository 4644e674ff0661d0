import { BooleanField, ChoiceField } from '../../common/validation/drf-fields.js';
import { HEALTH_STATUSES, PRIORITIES, PROVIDER_TYPES, type HealthStatus, type Priority, type ProviderType } from '../provider.constants.js';

export class ProviderListQuery {
  @ChoiceField(PROVIDER_TYPES, { api: { description: 'Only providers of this type.', example: 'smtp' } })
  provider_type?: ProviderType;

  @ChoiceField(HEALTH_STATUSES, { api: { description: 'Only providers in this health state.', example: 'healthy' } })
  health_status?: HealthStatus;

  @BooleanField({ api: { description: 'Only active (`true`) or inactive (`false`) providers.', example: true } })
  is_active?: boolean;

  @ChoiceField(PRIORITIES, { api: { description: 'Only providers of this priority.', example: 1 } })
  priority?: Priority;
}
