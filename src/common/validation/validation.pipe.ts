import { ValidationPipe, type ValidationError } from '@nestjs/common';
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

/** Global pipe: DTO classes in, unknown fields dropped (as DRF ignores them), field-keyed errors out. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    transform: true,
    whitelist: true,
    forbidNonWhitelisted: false,
    stopAtFirstError: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => AppError.validation(collect(errors, {})),
  });
}
