import { Command, CommandRunner } from 'nest-commander';
import { CredentialsService } from '../credentials/credentials.service.js';
import { ProvidersService } from '../providers/providers.service.js';
import { WebhooksRepository } from '../webhooks/webhooks.repository.js';

@Command({
  name: 'credentials:rotate',
  description: 'Re-encrypt every stored secret under the first key of FERNET_KEYS (safe to interrupt and re-run)',
})
export class RotateCredentialsCommand extends CommandRunner {
  constructor(
    private readonly providers: ProvidersService,
    private readonly webhooks: WebhooksRepository,
    private readonly credentials: CredentialsService,
  ) {
    super();
  }

  async run(): Promise<void> {
    const providers = await this.providers.rotateSecrets();
    const webhooks = await this.webhooks.resealSecrets((token) => this.credentials.rotate(token));
    const rotated = providers.rotated + webhooks.rotated;
    const examined = providers.examined + webhooks.examined;
    process.stdout.write(`Re-encrypted ${rotated} row(s) under the primary key; ${examined} row(s) hold secrets.\n`);
  }
}
