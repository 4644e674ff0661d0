import type { Scope } from './scopes.js';

/** Who is calling: the API key that authenticated the request. */
export interface Principal {
  /** Database id of the key, or null for ADMIN_API_KEY from the environment. */
  keyId: number | null;
  scopes: Scope[];
}

export const PRINCIPAL_TOKEN = Symbol('Authenticator');

/** What the guard needs from whoever stores keys (the api-keys module). */
export interface Authenticator {
  authenticate(token: string): Promise<Principal | null>;
}
