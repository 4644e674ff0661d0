import { ValidationPipe, type ArgumentMetadata, type ValidationError } from '@nestjs/common';
import { AppError, type FieldErrors } from '../errors/app-error.js';

function collect(errors: ValidationError[], into: FieldErrors, prefix = ''): FieldErrors {
  for (const e of errors) {
    const key = prefix ? `${prefix}.${e.property}` : e.property;
    const messages = Object.values(e.constraints ?? {});
    if (messages.length) into[key] = [messages[0]];
    if (e.children?.length) collect(e.children, into, key);
  }
  return into;
}

/** Python's name for the JSON type, as DRF words it. */
function pythonType(value: unknown): string {
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'string') return 'str';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  return typeof value;
}

/**
 * A body that is not a JSON object (a list, say) would otherwise be validated as if it were one
 * ("This field is required." for every field) or reported under a made-up `body` field.
 */
class DrfValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && this.toValidate(metadata)) {
      if (value === null) throw AppError.validation({ non_field_errors: ['No data provided'] });
      if (typeof value !== 'object' || Array.isArray(value))
        throw AppError.validation({ non_field_errors: [`Invalid data. Expected a dictionary, but got ${pythonType(value)}.`] });
    }
    return super.transform(value, metadata);
  }
}

/** Global pipe: DTO classes in, unknown fields dropped (as DRF ignores them), field-keyed errors out. */
export function createValidationPipe(): ValidationPipe {
  return new DrfValidationPipe({
    transform: true,
    whitelist: true,
    forbidNonWhitelisted: false,
    stopAtFirstError: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => AppError.validation(collect(errors, {})),
  });
}
