import { Command, CommandRunner, Option } from 'nest-commander';
import { isAwsRegion } from '../provider-types/aws-ses/aws-region.js';
import { deriveSesSmtpPassword } from '../provider-types/aws-ses/ses-smtp-password.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

interface Options {
  region?: string;
}

@Command({
  name: 'credentials:ses-smtp-password',
  description: "Print the Amazon SES SMTP password for the IAM secret access key read from standard input, for the region's SMTP endpoint",
})
export class SesSmtpPasswordCommand extends CommandRunner {
  @Option({
    flags: '--region <region>',
    description: 'AWS region of the SES SMTP endpoint (e.g. eu-west-1); the password works only there',
    required: true,
  })
  parseRegion(value: string): string {
    return value;
  }

  async run(_args: string[], { region = '' }: Options): Promise<void> {
    if (!isAwsRegion(region)) {
      throw new Error(`--region must be an AWS region name such as us-east-1 or eu-central-1, not ${JSON.stringify(region)}`);
    }
    // Only from stdin, never argv (shell history, `ps`) nor an ambient AWS_SECRET_ACCESS_KEY
    // (often another identity's key); and not typed at a terminal, which would display it.
    if (process.stdin.isTTY) {
      throw new Error(
        'pipe the IAM secret access key on standard input, e.g. printf \'%s\' "$SECRET" | npm run --silent cli -- credentials:ses-smtp-password --region REGION',
      );
    }
    const secret = (await readStdin()).replace(/\r?\n$/, '');
    if (!secret) throw new Error('give the IAM secret access key on standard input');
    // Whitespace inside is a paste gone wrong; deriving from it would give a password SES refuses.
    if (/\s/.test(secret)) throw new Error('the secret access key on standard input contains whitespace (give only the key)');
    process.stdout.write(`${deriveSesSmtpPassword(secret, region)}\n`);
  }
}
