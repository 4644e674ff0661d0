export const SCOPES = ['providers:read', 'providers:write', 'send', 'metrics', 'webhooks', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** `admin` grants every scope. */
export function grants(held: readonly Scope[], needed: Scope): boolean {
  return held.includes('admin') || held.includes(needed);
}
