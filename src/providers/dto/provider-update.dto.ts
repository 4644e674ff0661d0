import { PartialType } from '@nestjs/swagger';
import { ProviderCreateDto } from './provider-create.dto.js';

/** PUT and PATCH both take any subset of the create fields (the seed documents partial PUTs). */
export class ProviderUpdateDto extends PartialType(ProviderCreateDto, { skipNullProperties: false }) {}
