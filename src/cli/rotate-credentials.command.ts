import { Command, CommandRunner } from 'nest-commander';
import { ProvidersService } from '../providers/providers.service.js';

@Command({
  name: 'credentials:rotate',
  description: 'Re-encrypt every stored secret under the first key of FERNET_KEYS (safe to interrupt and re-run)',
})
export class RotateCredentialsCommand extends CommandRunner {
  constructor(private readonly providers: ProvidersService) {
    super();
  }

  async run(): Promise<void> {
    const { examined, rotated } = await this.providers.rotateSecrets();
    process.stdout.write(`Re-encrypted ${rotated} row(s) under the primary key; ${examined} row(s) hold secrets.\n`);
  }
}
