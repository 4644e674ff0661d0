import type { FieldErrors } from '../errors/app-error.js';
import { MSG, textProblem } from './drf-fields.js';

/**
 * Checks on a whole request body or query before any DTO sees it, for the inputs no field
 * validator should have to think about.
 */

/** Deeper than any DTO needs (3), far shallower than where class-transformer overflows (~1,500). */
export const MAX_NESTING = 20;

/** Whether `value` holds arrays or objects more than `levels` deep. Never recurses beyond that. */
function tooDeep(value: unknown, levels: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (levels === 0) return true;
  for (const item of Object.values(value)) if (tooDeep(item, levels - 1)) return true;
  return false;
}

/**
 * Every field, known to the route or not (class-transformer copies both), nested deeper than
 * MAX_NESTING. These must be refused before class-transformer runs.
 */
export function nestingErrors(input: object): FieldErrors {
  const errors: FieldErrors = {};
  for (const [field, value] of Object.entries(input)) if (tooDeep(value, MAX_NESTING)) errors[field] = [MSG.nesting(MAX_NESTING)];
  return errors;
}

/** The first string or key inside `value` with U+0000 or a lone surrogate, as [dotted key, message]. */
function firstTextProblem(value: unknown, key: string): [string, string] | null {
  if (typeof value === 'string') {
    const problem = textProblem(value);
    return problem ? [key, problem] : null;
  }
  if (typeof value !== 'object' || value === null) return null;
  for (const [k, item] of Object.entries(value)) {
    // A bad key is reported on the object holding it: the key itself cannot name the field.
    const keyProblem = textProblem(k);
    if (keyProblem) return [key, keyProblem];
    const found = firstTextProblem(item, `${key}.${k}`);
    if (found) return found;
  }
  return null;
}

/**
 * U+0000 and lone surrogates anywhere in the given fields (nested values and record keys too),
 * one message per field, keyed like nested validation errors (`headers.X-Foo`,
 * `attachments.0.filename`). Fields the route does not know are left alone, as DRF ignores them.
 */
export function textErrors(input: object, fields: ReadonlySet<string>): FieldErrors {
  const errors: FieldErrors = {};
  for (const [field, value] of Object.entries(input)) {
    if (!fields.has(field)) continue;
    const found = firstTextProblem(value, field);
    if (found) errors[found[0]] = [found[1]];
  }
  return errors;
}
