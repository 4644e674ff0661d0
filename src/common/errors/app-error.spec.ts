import { describe, expect, it } from '@jest/globals';
import { AppError, ErrorCode, httpStatusOf } from './app-error.js';

/** The contract's status for each code (CONTRACT.md, "Wire format"). */
const DOCUMENTED_STATUS: Record<ErrorCode, number> = {
  [ErrorCode.ValidationFailed]: 400,
  [ErrorCode.MalformedRequest]: 400,
  [ErrorCode.NotAuthenticated]: 401,
  [ErrorCode.AuthenticationFailed]: 401,
  [ErrorCode.PermissionDenied]: 403,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.MethodNotAllowed]: 405,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.IdempotencyMismatch]: 422,
  [ErrorCode.Unprocessable]: 422,
  [ErrorCode.RateLimited]: 429,
  [ErrorCode.PayloadTooLarge]: 413,
  [ErrorCode.UnsupportedMediaType]: 415,
  [ErrorCode.ServiceUnavailable]: 503,
};

describe(httpStatusOf.name, () => {
  it.each(Object.values(ErrorCode))('should map %s to its documented HTTP status', (code) => {
    expect(httpStatusOf(code)).toBe(DOCUMENTED_STATUS[code]);
  });

  it('should have a documented status for every code when a code is added', () => {
    expect(Object.keys(DOCUMENTED_STATUS).sort()).toEqual([...Object.values(ErrorCode)].sort());
  });

  it('should throw rather than answer 500 silently when given an unknown code', () => {
    expect(() => httpStatusOf('BOGUS' as ErrorCode)).toThrow(/BOGUS/);
  });
});

describe(AppError.name, () => {
  it('should carry the fields and a validation code when made by validation()', () => {
    const error = AppError.validation({ smtp_port: ['A valid integer is required.'] });
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe(ErrorCode.ValidationFailed);
    expect(error.fields).toEqual({ smtp_port: ['A valid integer is required.'] });
    expect(httpStatusOf(error.code)).toBe(400);
  });

  it('should carry the fields and a 422 code when made by unprocessable()', () => {
    const error = AppError.unprocessable({ to: ['Every recipient is suppressed: a@example.com.'] });
    expect(error.code).toBe(ErrorCode.Unprocessable);
    expect(error.fields).toEqual({ to: ['Every recipient is suppressed: a@example.com.'] });
    expect(httpStatusOf(error.code)).toBe(422);
  });

  it('should say "Not found." with a not-found code when made by notFound()', () => {
    const error = AppError.notFound();
    expect(error.code).toBe(ErrorCode.NotFound);
    expect(error.detail).toBe('Not found.');
    expect(error.message).toBe('Not found.');
    expect(error.fields).toBeUndefined();
  });

  it('should keep the cause when one is given', () => {
    const cause = new Error('socket closed');
    const error = new AppError(ErrorCode.Conflict, 'Busy.', undefined, { cause });
    expect(error.cause).toBe(cause);
    expect(error.name).toBe('AppError');
  });
});
