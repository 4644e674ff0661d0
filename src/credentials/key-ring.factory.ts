import { Logger } from '@nestjs/common';
import fs from 'node:fs';
import path from 'node:path';
import { AppConfig } from '../config/app-config.js';
import { Fernet, FernetError, FernetKeyRing } from './fernet.js';

const GENERATED_KEY_FILE = 'fernet.key';

/**
 * FERNET_KEYS (first encrypts, all decrypt). Without it, development gets a key generated into
 * DATA_DIR so `npm start` just works; production refuses, since a lost key loses every secret.
 */
export function createKeyRing(config: AppConfig): FernetKeyRing {
  const logger = new Logger('Credentials');
  if (config.fernetKeys) {
    try {
      return FernetKeyRing.parse(config.fernetKeys);
    } catch (err) {
      if (err instanceof FernetError)
        throw new Error(
          'Invalid configuration: FERNET_KEYS must be a comma-separated list of Fernet keys (32 bytes, URL-safe base64 with padding)',
        );
      throw err;
    }
  }
  if (config.isProduction) throw new Error('Invalid configuration: FERNET_KEYS is required when NODE_ENV=production');

  const file = path.join(config.dataDir, GENERATED_KEY_FILE);
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  try {
    fs.writeFileSync(file, `${Fernet.generateKey()}\n`, { mode: 0o600, flag: 'wx' });
    logger.warn(`FERNET_KEYS is not set: generated a development key in ${file}. Set FERNET_KEYS in production.`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    logger.warn(`FERNET_KEYS is not set: using the development key in ${file}.`);
  }
  return new FernetKeyRing([fs.readFileSync(file, 'utf8').trim()]);
}
