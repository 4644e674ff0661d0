import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ADMIN_KEY, FERNET_KEY } from './app.js';
import { closedPort } from './smtp-server.js';

const MAIN = path.resolve('dist/src/main.js');

/** The built service (`node dist/src/main.js`) running in a child process, as an operator runs it. */
export interface ServiceProcess {
  child: ChildProcess;
  /** http://127.0.0.1:PORT */
  url: string;
  auth: { Authorization: string };
  /** What the child wrote to stdout and stderr so far (for failure messages). */
  output(): string;
  /** Resolves with the exit code or signal once the child has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends the signal (if the child still runs) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts the service in a child process on a free port with `env` on top of a test baseline
 * (admin key, Fernet key, NODE_ENV=test, LOG_LEVEL=warn, OUTBOUND_ALLOW=127.0.0.1), and waits until /health/ready
 * answers 200. `npm test` builds first; a lone e2e run needs `npm run build`.
 */
export async function startServiceProcess(env: Record<string, string | undefined>, readyTimeoutMs = 30_000): Promise<ServiceProcess> {
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
  const port = await closedPort();
  const childEnv: Record<string, string> = {};
  const merged: Record<string, string | undefined> = {
    ...process.env,
    NODE_ENV: 'test',
    ADMIN_API_KEY: ADMIN_KEY,
    FERNET_KEYS: FERNET_KEY,
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
    HOST: '127.0.0.1',
    // The test SMTP servers listen on loopback, which the outbound host policy denies unless allowed.
    OUTBOUND_ALLOW: '127.0.0.1',
    ...env,
    PORT: String(port),
  };
  // NODE_OPTIONS may carry the test runner's flags (--experimental-vm-modules); the service needs none of them.
  delete merged.NODE_OPTIONS;
  for (const [k, v] of Object.entries(merged)) if (v !== undefined) childEnv[k] = v;

  const child = spawn(process.execPath, [MAIN], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let hasExited = false;
  void exited.then(() => (hasExited = true));
  const url = `http://127.0.0.1:${port}`;
  const service: ServiceProcess = {
    child,
    url,
    auth: { Authorization: `Bearer ${ADMIN_KEY}` },
    output: () => out,
    exited,
    stop: async (signal = 'SIGKILL') => {
      if (!hasExited) child.kill(signal);
      return exited;
    },
  };

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (hasExited) throw new Error(`the service exited before it was ready: ${JSON.stringify(await exited)}\n${out}`);
    try {
      const res = await fetch(`${url}/health/ready`);
      if (res.status === 200) return service;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await service.stop('SIGKILL');
      throw new Error(`the service was not ready within ${readyTimeoutMs} ms\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
