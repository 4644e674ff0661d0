import { describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AppConfig } from '../config/app-config.js';
import { Fernet } from './fernet.js';
import { createKeyRing } from './key-ring.factory.js';

function config(overrides: Partial<AppConfig>): AppConfig {
  return {
    fernetKeys: undefined,
    isProduction: false,
    dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'keyring-')),
    ...overrides,
  } as AppConfig;
}

describe(createKeyRing.name, () => {
  it('should encrypt with the first key and decrypt with any when FERNET_KEYS lists several', () => {
    const [k1, k2] = [Fernet.generateKey(), Fernet.generateKey()];
    const ring = createKeyRing(config({ fernetKeys: `${k2}, ${k1}` }));
    expect(new Fernet(k2).decryptToString(ring.encrypt('x'))).toBe('x');
    expect(ring.decryptToString(new Fernet(k1).encrypt('old'))).toBe('old');
  });

  it('should stop with a message naming FERNET_KEYS, and not the key, when a key is malformed', () => {
    const bad = 'not-a-fernet-key-but-a-secret';
    expect(() => createKeyRing(config({ fernetKeys: bad }))).toThrow(/FERNET_KEYS/);
    try {
      createKeyRing(config({ fernetKeys: bad }));
    } catch (err) {
      expect(String((err as Error).message)).not.toContain(bad);
    }
  });

  it('should refuse to start when NODE_ENV=production and no key is set', () => {
    expect(() => createKeyRing(config({ isProduction: true }))).toThrow(/FERNET_KEYS is required/);
  });

  it('should generate a key file with mode 0600 in development and reuse it on the next start', () => {
    const cfg = config({});
    const first = createKeyRing(cfg);
    const file = path.join(cfg.dataDir, 'fernet.key');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const second = createKeyRing(cfg);
    expect(second.decryptToString(first.encrypt('kept'))).toBe('kept');
  });
});
