import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const CLI = path.resolve('dist/src/cli/main.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built CLI (`npm run cli`) as an operator would, in a child process. `npm test`
 * builds first; a lone e2e run needs `npm run build`.
 */
export function runCli(args: string[], env: Record<string, string | undefined>, input?: string): Promise<CliResult> {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, NODE_ENV: 'test', OUTBOUND_ALLOW: '127.0.0.1', ...env }))
    if (v !== undefined) childEnv[k] = v;
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { env: childEnv, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}
