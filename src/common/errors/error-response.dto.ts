import { ApiProperty } from '@nestjs/swagger';

/** `{"detail": "..."}`: every error that is not a validation error. */
export class DetailResponseDto {
  @ApiProperty({ description: 'What went wrong, for people.', example: 'Not found.' })
  detail: string;
}

/** `{"field": ["message"]}`: validation errors, keyed by field; cross-field ones under `non_field_errors`. */
export class ValidationErrorResponseDto {
  [field: string]: string[];
}
