import { SetMetadata, applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { Scope } from './scopes.js';
import { DetailResponseDto } from '../errors/error-response.dto.js';

export const SCOPE_KEY = 'auth:scope';
export const PUBLIC_KEY = 'auth:public';

/** The route needs a bearer token holding this scope (or `admin`). */
export const RequireScope = (scope: Scope) =>
  applyDecorators(
    SetMetadata(SCOPE_KEY, scope),
    ApiBearerAuth(),
    ApiUnauthorizedResponse({ description: 'Missing or invalid bearer token.', type: DetailResponseDto }),
    ApiForbiddenResponse({ description: `The token lacks the \`${scope}\` scope.`, type: DetailResponseDto }),
  );

/** The route answers without a token (liveness, readiness). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);
