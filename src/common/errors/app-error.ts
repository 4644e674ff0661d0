/** Stable error codes; the exception filter maps each to the contract's HTTP status and body. */
export enum ErrorCode {
  ValidationFailed = 'VALIDATION_FAILED',
  MalformedRequest = 'MALFORMED_REQUEST',
  NotAuthenticated = 'NOT_AUTHENTICATED',
  AuthenticationFailed = 'AUTHENTICATION_FAILED',
  PermissionDenied = 'PERMISSION_DENIED',
  NotFound = 'NOT_FOUND',
  MethodNotAllowed = 'METHOD_NOT_ALLOWED',
  Conflict = 'CONFLICT',
  IdempotencyMismatch = 'IDEMPOTENCY_MISMATCH',
  /** Well-formed input the service cannot act on (every recipient suppressed); answered keyed by field, like a 400. */
  Unprocessable = 'UNPROCESSABLE',
  RateLimited = 'RATE_LIMITED',
  PayloadTooLarge = 'PAYLOAD_TOO_LARGE',
  UnsupportedMediaType = 'UNSUPPORTED_MEDIA_TYPE',
  /** The database cannot be reached or did not answer in time; try again later. */
  ServiceUnavailable = 'SERVICE_UNAVAILABLE',
}

/** Field name → messages, as Django REST framework reports validation errors. */
export type FieldErrors = Record<string, string[]>;

export class AppError extends Error {
  /** Response headers that belong with the error (Retry-After on a 429 or 503). */
  readonly headers?: Record<string, string>;

  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    readonly fields?: FieldErrors,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(detail, options);
    this.name = 'AppError';
    this.headers = options?.headers;
  }

  static validation(fields: FieldErrors): AppError {
    return new AppError(ErrorCode.ValidationFailed, 'Invalid input.', fields);
  }

  /** A 422 whose body is the field errors, as DRF answers a validation error. */
  static unprocessable(fields: FieldErrors): AppError {
    return new AppError(ErrorCode.Unprocessable, 'Unprocessable input.', fields);
  }

  static notFound(detail = 'Not found.'): AppError {
    return new AppError(ErrorCode.NotFound, detail);
  }
}

export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case ErrorCode.ValidationFailed:
    case ErrorCode.MalformedRequest:
      return 400;
    case ErrorCode.NotAuthenticated:
    case ErrorCode.AuthenticationFailed:
      return 401;
    case ErrorCode.PermissionDenied:
      return 403;
    case ErrorCode.NotFound:
      return 404;
    case ErrorCode.MethodNotAllowed:
      return 405;
    case ErrorCode.Conflict:
      return 409;
    case ErrorCode.IdempotencyMismatch:
    case ErrorCode.Unprocessable:
      return 422;
    case ErrorCode.RateLimited:
      return 429;
    case ErrorCode.PayloadTooLarge:
      return 413;
    case ErrorCode.UnsupportedMediaType:
      return 415;
    case ErrorCode.ServiceUnavailable:
      return 503;
    default: {
      const unreachable: never = code;
      throw new Error(`unmapped error code ${String(unreachable)}`);
    }
  }
}
