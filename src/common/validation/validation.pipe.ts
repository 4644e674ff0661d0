import { ValidationPipe, type ArgumentMetadata, type ValidationError } from '@nestjs/common';
import { getMetadataStorage } from 'class-validator';
import { AppError, ErrorCode, type FieldErrors } from '../errors/app-error.js';
import { nestingErrors, textErrors } from './input-guard.js';

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
export function pythonType(value: unknown): string {
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'string') return 'str';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  if (typeof value === 'object' && value !== null) return 'dict';
  return typeof value;
}

/** DRF's answer to a body that is not a JSON object, or null when it is one. */
export function bodyShapeErrors(value: unknown): FieldErrors | null {
  if (value === null) return { non_field_errors: ['No data provided'] };
  if (typeof value !== 'object' || Array.isArray(value))
    return { non_field_errors: [`Invalid data. Expected a dictionary, but got ${pythonType(value)}.`] };
  return null;
}

const knownFields = new Map<unknown, ReadonlySet<string>>();

/** The properties a DTO class validates (its own and inherited ones), i.e. those the whitelist keeps. */
function fieldsOf(metatype: NonNullable<ArgumentMetadata['metatype']>): ReadonlySet<string> {
  let fields = knownFields.get(metatype);
  if (!fields) {
    fields = new Set(
      getMetadataStorage()
        .getTargetValidationMetadatas(metatype, '', true, false)
        .map((m) => m.propertyName),
    );
    knownFields.set(metatype, fields);
  }
  return fields;
}

/**
 * A body that is not a JSON object (a list, say) would otherwise be validated as if it were one
 * ("This field is required." for every field) or reported under a made-up `body` field.
 * Input nested too deep for class-transformer, and text PostgreSQL cannot store, are refused here
 * for every DTO at once.
 */
class DrfValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    // Path ids have their own pipe (id.param.ts); Number(' 1') or Number('1e3') would name a row.
    if (metadata.type === 'param') return value;
    if (!metadata.metatype || !this.toValidate(metadata)) return super.transform(value, metadata);
    if (metadata.type === 'body') {
      const notADictionary = bodyShapeErrors(value);
      if (notADictionary) throw AppError.validation(notADictionary);
    }
    if (typeof value !== 'object' || value === null) return super.transform(value, metadata);

    const tooDeep = nestingErrors(value);
    if (Object.keys(tooDeep).length) throw AppError.validation(tooDeep);
    const badText = textErrors(value, fieldsOf(metadata.metatype));
    if (!Object.keys(badText).length) return super.transform(value, metadata);
    // Report the other fields' errors beside these, as DRF reports every field at once.
    const others = await super.transform(value, metadata).then(
      () => ({}),
      (err: unknown) => {
        if (err instanceof AppError && err.code === ErrorCode.ValidationFailed && err.fields) return err.fields;
        throw err;
      },
    );
    const flagged = new Set(Object.keys(badText).map((key) => key.split('.')[0]));
    const rest = Object.entries(others).filter(([key]) => !flagged.has(key.split('.')[0]));
    throw AppError.validation({ ...Object.fromEntries(rest), ...badText });
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
