import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { AppError, ErrorCode } from '../errors/app-error.js';
import { PUBLIC_KEY, SCOPE_KEY } from './auth.decorators.js';
import { PRINCIPAL_TOKEN, type Authenticator, type Principal } from './principal.js';
import { grants, type Scope } from './scopes.js';

/**
 * Global guard: every route needs `Authorization: Bearer <token>` unless marked @Public().
 * A route without @RequireScope needs `admin`, so forgetting the decorator fails closed.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(PRINCIPAL_TOKEN) private readonly authenticator: Authenticator,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const needed = this.reflector.getAllAndOverride<Scope>(SCOPE_KEY, targets) ?? 'admin';

    const req = context.switchToHttp().getRequest<Request & { principal?: Principal }>();
    const header = req.headers.authorization;
    if (!header) throw new AppError(ErrorCode.NotAuthenticated, 'Authentication credentials were not provided.');
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw new AppError(ErrorCode.AuthenticationFailed, 'Invalid token header. Use "Authorization: Bearer <token>".');

    const principal = await this.authenticator.authenticate(match[1]);
    if (!principal) throw new AppError(ErrorCode.AuthenticationFailed, 'Invalid token.');
    if (!grants(principal.scopes, needed))
      throw new AppError(ErrorCode.PermissionDenied, 'You do not have permission to perform this action.');
    req.principal = principal;
    return true;
  }
}
