import { PartialType } from '@nestjs/swagger';
import { WebhookCreateDto } from './webhook-create.dto.js';

/** PATCH takes any subset of the create fields; `is_active: true` turns an endpoint on again after a 410. */
export class WebhookUpdateDto extends PartialType(WebhookCreateDto, { skipNullProperties: false }) {}

/** One field: the property examples make up a whole endpoint, which as PATCH's default body would overwrite its URL. */
export const WEBHOOK_UPDATE_EXAMPLES = {
  'turn on again': { summary: 'Turn an endpoint on again (after a 410 Gone)', value: { is_active: true } },
};
