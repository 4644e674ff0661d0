import { ApiBadRequestResponse, ApiNotFoundResponse, ApiResponse } from '@nestjs/swagger';
import { DetailResponseDto } from './error-response.dto.js';

/** Documents a 400 in the field-keyed shape, with a realistic example. */
export const ApiValidationErrors = (example: Record<string, string[]>) =>
  ApiBadRequestResponse({
    description: 'Invalid input: messages keyed by field; cross-field problems under `non_field_errors`.',
    schema: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } }, example },
  });

/**
 * Documents a `{"detail": "..."}` answer with the details the code really gives, as named examples:
 * without them Swagger UI would show DetailResponseDto's own example ("Not found.") for every status.
 */
export const ApiDetailResponse = (status: number, description: string, details: Record<string, string>) =>
  ApiResponse({
    status,
    description,
    type: DetailResponseDto,
    examples: Object.fromEntries(Object.entries(details).map(([name, detail]) => [name, { summary: name, value: { detail } }])),
  });

export const ApiNotFound = (what: string) => ApiNotFoundResponse({ description: `No such ${what}.`, type: DetailResponseDto });
