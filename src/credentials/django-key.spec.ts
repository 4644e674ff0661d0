import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { deriveDjangoFernetKey } from './django-key.js';
import { Fernet } from './fernet.js';

// Debian's interpreter, which has python3-cryptography; the `python3` on PATH may be another one.
const PYTHON = '/usr/bin/python3';
const DERIVE = `
import base64, sys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.fernet import Fernet
secret = sys.stdin.read().encode()
key = base64.urlsafe_b64encode(HKDF(algorithm=hashes.SHA256(), length=32, salt=b'django-fernet-fields-hkdf-salt', info=b'django-fernet-fields').derive(secret))
print(key.decode())
print(Fernet(key).encrypt(b'smtp-password-from-django').decode())
`;

describe('deriveDjangoFernetKey', () => {
  it.each(['django-insecure-k3y!@#$%^&*()', 'short', 'ünïcødé secret with spaces'])(
    'should derive the same key as django-fernet-fields (Python HKDF) when SECRET_KEY is %j',
    (secret) => {
      const [pythonKey, pythonToken] = execFileSync(PYTHON, ['-I', '-c', DERIVE], { input: secret }).toString().trim().split('\n');
      const key = deriveDjangoFernetKey(secret);
      expect(key).toBe(pythonKey);
      expect(new Fernet(key).decryptToString(pythonToken)).toBe('smtp-password-from-django');
    },
  );
});
