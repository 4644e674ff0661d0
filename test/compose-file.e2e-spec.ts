import { afterAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** `docker compose` (the v2 plugin) where it is installed, else Debian's `docker-compose`; CI installs the latter (.ci/run). */
function composeClient(): string[] {
  for (const cmd of [['docker', 'compose'], ['docker-compose']]) {
    try {
      execFileSync(cmd[0], [...cmd.slice(1), 'version'], { stdio: 'ignore' });
      return cmd;
    } catch {
      // not this one
    }
  }
  throw new Error("no Compose client: install Debian's docker-compose package (apt-get install docker-compose) to run this test.");
}

/**
 * docker-compose.yml as a user runs it: beside a `.env` made from `.env.example`. No Docker engine
 * runs here, so the client only validates and resolves the file (`config`); nothing is built.
 */
describe('docker-compose.yml', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ept-compose-'));
  fs.copyFileSync(path.join(root, 'docker-compose.yml'), path.join(dir, 'docker-compose.yml'));
  const env = fs.readFileSync(path.join(root, '.env.example'), 'utf8');
  fs.writeFileSync(
    path.join(dir, '.env'),
    env
      .replace(/^FERNET_KEYS=.*$/m, 'FERNET_KEYS=fernet-key-from-env-file')
      .replace(/^ADMIN_API_KEY=.*$/m, 'ADMIN_API_KEY=admin-key-from-env-file'),
  );
  const [cmd, ...args] = composeClient();
  const compose = (...more: string[]) => execFileSync(cmd, [...args, ...more], { cwd: dir, encoding: 'utf8' });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('is valid and has the service, PostgreSQL and a mail catcher', () => {
    expect(compose('config', '--services').split('\n').filter(Boolean).sort()).toEqual(['email-provider-service', 'mailpit', 'postgres']);
  });

  it("gives the service its secrets from .env and PostgreSQL's address on the compose network", () => {
    const resolved = compose('config');
    expect(resolved).toMatch(/FERNET_KEYS: fernet-key-from-env-file/);
    expect(resolved).toMatch(/ADMIN_API_KEY: admin-key-from-env-file/);
    expect(resolved).toMatch(/DATABASE_URL: postgres:\/\/email:email@postgres:5432\/email/);
    // Built from the repository's Dockerfile.
    expect(resolved).toMatch(/build:\s+context: /);
  });

  it('leaves .env out of git', () => {
    expect(fs.readFileSync(path.join(root, '.gitignore'), 'utf8').split('\n')).toContain('.env');
  });
});
