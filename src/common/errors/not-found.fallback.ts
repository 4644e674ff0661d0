import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Request, Response } from 'express';
import { answerUnmatched } from './allowed-methods.js';

/**
 * Nest answers unknown paths only under the global prefix; anything else (`/`, `/api`,
 * `//api/...`, `/favicon.ico`, a wrong method on Swagger UI) would get Express's HTML page.
 * This last handler gives them the contract's JSON instead. It is added on bootstrap because
 * that runs after Nest has mounted its routes and not-found handlers, so it comes behind them.
 */
@Injectable()
export class NotFoundFallback implements OnApplicationBootstrap {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onApplicationBootstrap(): void {
    const adapter = this.adapterHost.httpAdapter;
    if (!adapter) return;
    const expressApp: unknown = adapter.getInstance();
    adapter.use((req: Request, res: Response) => {
      const { status, body, headers } = answerUnmatched(expressApp, req.method, req.path);
      for (const [k, v] of Object.entries(headers ?? {})) res.setHeader(k, v);
      if (body === undefined) res.status(status).end();
      else res.status(status).json(body);
    });
  }
}
