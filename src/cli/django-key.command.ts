import { Command, CommandRunner } from 'nest-commander';
import { deriveDjangoFernetKey } from '../credentials/django-key.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

@Command({
  name: 'credentials:django-key',
  description:
    'Print the Fernet key django-fernet-fields derives from a Django SECRET_KEY read from standard input (or DJANGO_SECRET_KEY), for FERNET_KEYS',
})
export class DjangoKeyCommand extends CommandRunner {
  async run(): Promise<void> {
    // Read from stdin rather than argv, so the secret stays out of shell history and `ps`.
    const secret = (process.env.DJANGO_SECRET_KEY ?? (await readStdin())).replace(/\r?\n$/, '');
    if (!secret) throw new Error('give the Django SECRET_KEY on standard input or in DJANGO_SECRET_KEY');
    process.stdout.write(`${deriveDjangoFernetKey(secret)}\n`);
  }
}
