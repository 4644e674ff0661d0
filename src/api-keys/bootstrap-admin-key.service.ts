import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { newToken } from './api-key.token.js';
import { ApiKeysRepository } from './api-keys.repository.js';
import { printBootstrapKeyIfTerminal, writeBootstrapKeyFile } from './bootstrap-key-file.js';

/**
 * A newcomer with neither ADMIN_API_KEY nor any key could not call anything, Swagger UI included,
 * so the service's first start makes an admin key. It goes to a file only this user can read, and
 * to the terminal when there is one; never to the log stream, which is shipped and kept.
 * Part of the service only: the CLI must not make one as a side effect.
 */
@Injectable()
export class BootstrapAdminKey implements OnApplicationBootstrap {
  private readonly logger = new Logger(BootstrapAdminKey.name);

  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.adminApiKey) return;
    const { token, prefix, hash } = newToken();
    let file = '';
    // Written before the insert commits: if the file cannot be written, no key exists that nobody knows.
    const created = await this.keys.createIfNone({ name: 'bootstrap-admin', prefix, secretHash: hash, scopes: ['admin'] }, () => {
      try {
        file = writeBootstrapKeyFile(this.config.dataDir, token);
      } catch (err) {
        throw new Error(
          `cannot write the bootstrap admin API key under DATA_DIR (${this.config.dataDir}): ${(err as NodeJS.ErrnoException).code ?? String(err)}. ` +
            'Make DATA_DIR writable, or set ADMIN_API_KEY.',
        );
      }
    });
    if (!created) return;
    printBootstrapKeyIfTerminal(process.stdout, token, file);
    this.logger.warn(
      { apiKeyId: created.id, prefix, file },
      `no API key existed: created an admin API key; read it from ${file} (readable only by this user)`,
    );
  }
}
