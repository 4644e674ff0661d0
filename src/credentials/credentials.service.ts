import { Inject, Injectable } from '@nestjs/common';
import { FernetError, FernetKeyRing } from './fernet.js';

export const KEY_RING = Symbol('FernetKeyRing');

/** The only holder of key material: every stored secret is sealed, opened and rotated here. */
@Injectable()
export class CredentialsService {
  constructor(@Inject(KEY_RING) private readonly keyRing: FernetKeyRing) {}

  seal(secret: string): string {
    return this.keyRing.encrypt(secret);
  }

  /** Throws FernetError (which never carries the token or the secret) if no key opens it. */
  open(token: string): string {
    return this.keyRing.decryptToString(token);
  }

  /** Whether a configured key opens this token (for tokens imported from another deployment). */
  opens(token: string): boolean {
    try {
      this.keyRing.decrypt(token);
      return true;
    } catch (err) {
      if (err instanceof FernetError) return false;
      throw err;
    }
  }

  /** The token re-encrypted under the primary key, or null when it already is. */
  rotate(token: string): string | null {
    return this.keyRing.isPrimary(token) ? null : this.keyRing.rotate(token);
  }
}
