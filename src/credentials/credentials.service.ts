import { Inject, Injectable } from '@nestjs/common';
import { FernetKeyRing } from './fernet.js';

export const KEY_RING = Symbol('FernetKeyRing');

/** The only holder of key material: every stored secret is sealed and opened here. */
@Injectable()
export class CredentialsService {
  constructor(@Inject(KEY_RING) private readonly keyRing: FernetKeyRing) {}

  seal(secret: string): string {
    return this.keyRing.encrypt(secret);
  }

  open(token: string): string {
    return this.keyRing.decryptToString(token);
  }
}
