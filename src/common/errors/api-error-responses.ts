import { applyDecorators } from '@nestjs/common';
import { ApiBadRequestResponse, ApiNotFoundResponse } from '@nestjs/swagger';
import { DetailResponseDto } from './error-response.dto.js';

/** Documents a 400 in the field-keyed shape, with a realistic example. */
export const ApiValidationErrors = (example: Record<string, string[]>) =>
  ApiBadRequestResponse({
    description: 'Invalid input: messages keyed by field; cross-field problems under `non_field_errors`.',
    schema: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } }, example },
  });

export const ApiNotFound = (what: string) => ApiNotFoundResponse({ description: `No such ${what}.`, type: DetailResponseDto });
