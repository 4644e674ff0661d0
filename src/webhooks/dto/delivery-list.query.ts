import { IntegerField } from '../../common/validation/drf-fields.js';

export class DeliveryListQuery {
  @IntegerField({ min: 1, api: { description: 'Default 1.' } })
  page?: number;

  @IntegerField({ min: 1, max: 200, api: { description: 'Default 50.' } })
  page_size?: number;
}
