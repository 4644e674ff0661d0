import { SCOPES, type Scope } from '../common/auth/scopes.js';

export interface KeyRequestOptions {
  name?: string;
  scopes?: string;
}

/** The same rules as POST /api-keys/ (a name of at most 100 characters, known scopes). */
export function parseKeyRequest({ name = '', scopes = '' }: KeyRequestOptions): { name: string; scopes: Scope[] } {
  const trimmed = name.trim();
  if (!trimmed) throw new Error('--name must not be blank');
  if (trimmed.length > 100) throw new Error('--name must be at most 100 characters');
  const list = scopes
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) throw new Error(`--scopes must list at least one of: ${SCOPES.join(', ')}`);
  const unknown = list.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0)
    throw new Error(
      `--scopes: ${unknown.map((s) => JSON.stringify(s)).join(', ')} ${unknown.length === 1 ? 'is not a known scope' : 'are not known scopes'}; ` +
        `known scopes: ${SCOPES.join(', ')}`,
    );
  return { name: trimmed, scopes: [...new Set(list)] as Scope[] };
}
