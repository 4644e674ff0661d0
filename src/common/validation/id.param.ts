import { Param, PipeTransform } from '@nestjs/common';
import { ApiParam } from '@nestjs/swagger';
import { applyDecorators } from '@nestjs/common';
import { AppError } from '../errors/app-error.js';

/** A path id that is not a positive integer names nothing: 404, as Django's `<int:pk>` route would. */
class ParseIdPipe implements PipeTransform<string, number> {
  transform(value: string): number {
    if (!/^[1-9]\d{0,9}$/.test(value) || Number(value) > 2_147_483_647) throw AppError.notFound();
    return Number(value);
  }
}

export const IdParam = (name = 'id') => Param(name, new ParseIdPipe());

/**
 * No example: Swagger UI would fill it into the form, and Execute on an untouched DELETE would
 * delete whatever has that id.
 */
export const ApiIdParam = (name = 'id') =>
  applyDecorators(
    ApiParam({ name, schema: { type: 'integer', minimum: 1 }, description: 'The id, as the list and create routes return it.' }),
  );
