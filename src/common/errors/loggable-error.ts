/**
 * What of an unexpected error may reach the log. TypeORM's QueryFailedError carries the
 * statement's parameters (a sealed password among them on a provider write), so errors are
 * never logged whole: only their class, code, message and stack, for the error and its causes.
 */
export function loggableError(err: unknown, depth = 0): Record<string, unknown> | string {
  if (!(err instanceof Error)) return typeof err === 'string' ? err : `non-error thrown: ${typeof err}`;
  const code = (err as { code?: unknown }).code;
  return {
    type: err.name,
    message: err.message,
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
    stack: err.stack,
    ...(err.cause !== undefined && depth < 3 ? { cause: loggableError(err.cause, depth + 1) } : {}),
  };
}
