import 'reflect-metadata';
import { CommandFactory } from 'nest-commander';
import { CliModule, OFFLINE_COMMANDS, OfflineCliModule } from './cli.module.js';

/** `npm run cli -- <command>`: operator commands on the same configuration as the service. */
async function main(): Promise<void> {
  const offline = OFFLINE_COMMANDS.includes(process.argv[2] ?? '');
  await CommandFactory.run(offline ? OfflineCliModule : CliModule, {
    logger: ['error', 'warn'],
    errorHandler: (err) => {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    },
    serviceErrorHandler: (err) => {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    },
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
