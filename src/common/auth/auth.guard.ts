import { CanActivate, ExecutionContext, Inject, Injectable, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { AppError, ErrorCode } from '../errors/app-error.js';
import { PUBLIC_KEY, SCOPE_KEY } from './auth.decorators.js';
import { AuthFailureThrottle } from './auth-failure-throttle.js';
import { clientKey } from './client-address.js';
import { PRINCIPAL_TOKEN, type Authenticator, type Principal } from './principal.js';
import { grants, type Scope } from './scopes.js';

/**
 * Global guard: every route needs `Authorization: Bearer <token>` unless marked @Public().
 * A route without @RequireScope needs `admin`, so forgetting the decorator fails closed.
 * A client address that keeps presenting wrong credentials is refused (429) for a while, whatever it sends.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly logger = new Logger('Auth');

  constructor(
    private readonly reflector: Reflector,
    @Inject(PRINCIPAL_TOKEN) private readonly authenticator: Authenticator,
    private readonly throttle: AuthFailureThrottle,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const needed = this.reflector.getAllAndOverride<Scope>(SCOPE_KEY, targets) ?? 'admin';

    const req = context.switchToHttp().getRequest<Request & { principal?: Principal }>();
    const client = clientKey(req.ip);
    const waitMs = this.throttle.retryAfterMs(client);
    if (waitMs > 0) {
      const seconds = Math.ceil(waitMs / 1000);
      throw new AppError(ErrorCode.RateLimited, `Request was throttled. Expected available in ${seconds} seconds.`, undefined, {
        headers: { 'Retry-After': String(seconds) },
      });
    }
    const header = req.headers.authorization;
    // No credentials guesses nothing, so it is not counted; wrong ones are.
    if (!header) throw new AppError(ErrorCode.NotAuthenticated, 'Authentication credentials were not provided.');
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw this.failed(client, 'Invalid token header. Use "Authorization: Bearer <token>".');

    const principal = await this.authenticator.authenticate(match[1]);
    if (!principal) throw this.failed(client, 'Invalid token.');
    if (!grants(principal.scopes, needed))
      throw new AppError(ErrorCode.PermissionDenied, 'You do not have permission to perform this action.');
    req.principal = principal;
    return true;
  }

  private failed(client: string, detail: string): AppError {
    if (this.throttle.recordFailure(client))
      this.logger.warn({ client }, 'too many failed authentications: this client is refused (429) for a minute');
    return new AppError(ErrorCode.AuthenticationFailed, detail);
  }
}
