import { types } from 'node:util';

/**
 * What of an unexpected error may reach the log. TypeORM's QueryFailedError carries the
 * statement's parameters (a sealed password among them on a provider write), so errors are
 * never logged whole: only their class, code, message and stack, for the error and its causes.
 * `stack: false` leaves the stacks out, for errors whose stack says nothing (a lost connection).
 */
export function loggableError(err: unknown, options: { stack?: boolean } = {}, depth = 0): Record<string, unknown> | string {
  // isNativeError also knows errors from another realm (Node's own, seen from a test's VM context).
  if (!(err instanceof Error) && !types.isNativeError(err)) return typeof err === 'string' ? err : `non-error thrown: ${typeof err}`;
  const code = (err as { code?: unknown }).code;
  return {
    type: err.name,
    message: err.message,
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
    ...(options.stack === false ? {} : { stack: err.stack }),
    ...(err.cause !== undefined && depth < 3 ? { cause: loggableError(err.cause, options, depth + 1) } : {}),
  };
}
