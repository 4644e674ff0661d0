import { METHODS } from 'node:http';

interface RouteLayer {
  route?: { methods: Record<string, boolean> };
  match(path: string): unknown;
}

/**
 * The methods Express has routes for at this path, so an unknown method on a known path can be
 * a 405 with an Allow header (as Django REST framework answers) instead of a bare 404.
 */
export function allowedMethods(expressApp: unknown, path: string): string[] {
  const stack = (expressApp as { router?: { stack?: RouteLayer[] } })?.router?.stack ?? [];
  const methods = new Set<string>();
  for (const layer of stack) {
    if (!layer.route || !layer.match(path)) continue;
    const routeMethods = Object.entries(layer.route.methods)
      .filter(([method, on]) => on && method !== '_all')
      .map(([method]) => method.toUpperCase());
    // Express's app.all() registers every method; Nest mounts middleware (the request logger) and
    // its not-found handler that way. Such a route is no endpoint and would make every method "allowed".
    if (METHODS.every((m) => routeMethods.includes(m))) continue;
    for (const method of routeMethods) methods.add(method);
  }
  if (methods.has('GET')) methods.add('HEAD');
  if (methods.size) methods.add('OPTIONS');
  return [...methods].sort();
}

/** The answer to a request no route took: DRF's 404 and 405 shapes, and OPTIONS on a known path. */
export interface UnmatchedAnswer {
  status: number;
  /** No body on a 204. */
  body?: { detail: string };
  headers?: Record<string, string>;
}

export function answerUnmatched(expressApp: unknown, method: string, path: string): UnmatchedAnswer {
  const allowed = allowedMethods(expressApp, path);
  if (allowed.length && method === 'OPTIONS') return { status: 204, headers: { Allow: allowed.join(', ') } };
  if (allowed.length && !allowed.includes(method))
    return { status: 405, body: { detail: `Method "${method}" not allowed.` }, headers: { Allow: allowed.join(', ') } };
  return { status: 404, body: { detail: 'Not found.' } };
}
