import { hkdfSync } from 'node:crypto';

// The constants django-fernet-fields uses to derive its Fernet key from a Django SECRET_KEY.
const SALT = 'django-fernet-fields-hkdf-salt';
const INFO = 'django-fernet-fields';

/**
 * The Fernet key django-fernet-fields derives from `secret` (each entry of FERNET_KEYS, or
 * SECRET_KEY): HKDF-SHA256 to 32 bytes, then URL-safe base64 with padding. Tokens its
 * EncryptedField wrote open with this key, so they can be imported as they are.
 */
export function deriveDjangoFernetKey(secret: string): string {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), SALT, INFO, 32))
    .toString('base64url')
    .padEnd(44, '=');
}
