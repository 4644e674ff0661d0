import { PartialType } from '@nestjs/swagger';
import { ProviderCreateDto } from './provider-create.dto.js';

/** PUT and PATCH both take any subset of the create fields (the seed documents partial PUTs). */
export class ProviderUpdateDto extends PartialType(ProviderCreateDto, { skipNullProperties: false }) {}

/**
 * Two fields and no credentials: the property examples make up a whole provider, which as the
 * default body of PUT or PATCH would overwrite a provider's host, password and sender.
 */
export const PROVIDER_UPDATE_EXAMPLES = {
  'two fields': { summary: 'Change the daily limit and the priority', value: { daily_limit: 2000, priority: 2 } },
};
