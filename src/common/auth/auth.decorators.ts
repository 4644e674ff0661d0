import { SetMetadata, applyDecorators } from '@nestjs/common';
import { ApiBearerAuth } from '@nestjs/swagger';
import type { Scope } from './scopes.js';
import { ApiDetailResponse } from '../errors/api-error-responses.js';

export const SCOPE_KEY = 'auth:scope';
export const PUBLIC_KEY = 'auth:public';

/** The route needs a bearer token holding this scope (or `admin`). Documents what AuthGuard answers. */
export const RequireScope = (scope: Scope) =>
  applyDecorators(
    SetMetadata(SCOPE_KEY, scope),
    ApiBearerAuth(),
    ApiDetailResponse(401, 'Missing, malformed, unknown or expired bearer token.', {
      'no token': 'Authentication credentials were not provided.',
      'not a bearer header': 'Invalid token header. Use "Authorization: Bearer <token>".',
      'unknown token': 'Invalid token.',
      'expired key': 'Token expired.',
    }),
    ApiDetailResponse(403, `The token lacks the \`${scope}\` scope.`, {
      'scope missing': 'You do not have permission to perform this action.',
    }),
    ApiDetailResponse(429, 'This client presented wrong credentials too often: refused for a while (Retry-After says how long).', {
      'too many failed authentications': 'Request was throttled. Expected available in 60 seconds.',
    }),
  );

/** The route answers without a token (liveness, readiness). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);
