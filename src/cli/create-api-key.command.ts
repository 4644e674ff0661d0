import { Command, CommandRunner, Option } from 'nest-commander';
import { ApiKeysService } from '../api-keys/api-keys.service.js';
import { SCOPES } from '../common/auth/scopes.js';
import { parseKeyRequest, type KeyRequestOptions } from './api-key-request.js';

@Command({
  name: 'api-keys:create',
  description: 'Create an API key and print its token once (only its SHA-256 is stored)',
})
export class CreateApiKeyCommand extends CommandRunner {
  constructor(private readonly apiKeys: ApiKeysService) {
    super();
  }

  @Option({ flags: '--name <name>', description: 'What the key is for; shown in listings', required: true })
  parseName(value: string): string {
    return value;
  }

  @Option({ flags: '--scopes <scopes>', description: `Comma-separated, from: ${SCOPES.join(', ')}`, required: true })
  parseScopes(value: string): string {
    return value;
  }

  async run(_args: string[], options: KeyRequestOptions): Promise<void> {
    const { name, scopes } = parseKeyRequest(options);
    const created = await this.apiKeys.create(name, scopes);
    // The token alone on stdout, so a script can capture it; the rest on stderr.
    process.stdout.write(`${created.key}\n`);
    process.stderr.write(
      `Created API key ${created.id} ${JSON.stringify(created.name)} (${created.prefix}, scopes ${created.scopes.join(', ')}). ` +
        'The token above is shown only this once.\n',
    );
  }
}
