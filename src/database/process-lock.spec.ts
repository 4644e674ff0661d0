import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { acquireProcessLock, LockHeldError } from './process-lock.js';

/**
 * A child process that imports the lock and, for each line `[instant, lockDir]` it reads, tries
 * the lock at that instant (so that several children race), prints `won` or `refused <pid>`, and
 * keeps what it won until it exits.
 */
const CHILD = `
import readline from 'node:readline';
const { acquireProcessLock } = await import(process.argv[1]);
const held = [];
process.stdout.write('ready\\n');
for await (const line of readline.createInterface({ input: process.stdin })) {
  const [at, lockDir] = JSON.parse(line);
  while (performance.timeOrigin + performance.now() < at); // line the racers up on one instant
  try {
    held.push(acquireProcessLock(lockDir));
    process.stdout.write('won\\n');
  } catch (err) {
    process.stdout.write(err.name === 'LockHeldError' ? 'refused ' + err.holder.pid + '\\n' : 'error ' + err.message + '\\n');
  }
}
`;

interface Contender {
  child: ChildProcess;
  /** Resolves with the next line the child prints. */
  line(): Promise<string>;
  exited: Promise<unknown>;
}

let work: string;
let moduleUrl: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'ept-process-lock-'));
  // The children run the module under test as plain JavaScript.
  const source = fs.readFileSync(new URL('./process-lock.ts', import.meta.url), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  const file = path.join(work, 'process-lock.mjs');
  fs.writeFileSync(file, outputText);
  moduleUrl = pathToFileURL(file).href;
});
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const freshLockDir = () => fs.mkdtempSync(path.join(work, 'lock-'));

async function contender(): Promise<Contender> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, moduleUrl], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  children.push(child);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const pending: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
      const line = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      const waiter = waiting.shift();
      if (waiter) waiter(line);
      else pending.push(line);
    }
  });
  const line = () => (pending.length ? Promise.resolve(pending.shift()!) : new Promise<string>((r) => waiting.push(r)));
  expect(await line()).toBe('ready');
  return { child, line, exited };
}

/** Has every contender try the lock at the same instant; returns what each printed. */
async function race(contenders: Contender[], lockDir: string): Promise<string[]> {
  const at = Date.now() + 30;
  for (const c of contenders) c.child.stdin!.write(`${JSON.stringify([at, lockDir])}\n`);
  return Promise.all(contenders.map((c) => c.line()));
}

async function kill(c: Contender): Promise<void> {
  c.child.kill('SIGKILL');
  await c.exited;
}

describe(acquireProcessLock.name, () => {
  it('should refuse a second holder while the first runs, naming it, and allow one after release', () => {
    const dir = freshLockDir();
    const release = acquireProcessLock(dir);
    expect(() => acquireProcessLock(dir)).toThrow(LockHeldError);
    try {
      acquireProcessLock(dir);
    } catch (err) {
      expect((err as LockHeldError).holder.pid).toBe(process.pid);
    }
    release();
    const again = acquireProcessLock(dir);
    expect(() => acquireProcessLock(dir)).toThrow(LockHeldError);
    again();
  });

  it('should keep the lock of a holder that is stopped (SIGSTOP)', async () => {
    const dir = freshLockDir();
    const holder = await contender();
    expect(await race([holder], dir)).toEqual(['won']);
    holder.child.kill('SIGSTOP');
    try {
      expect(() => acquireProcessLock(dir)).toThrow(LockHeldError);
    } finally {
      holder.child.kill('SIGCONT');
    }
  });

  it('should take the lock at once from a holder that was killed (SIGKILL)', async () => {
    const dir = freshLockDir();
    const holder = await contender();
    expect(await race([holder], dir)).toEqual(['won']);
    await kill(holder);
    const release = acquireProcessLock(dir);
    release();
  });

  it('should take the lock from a record whose PID now belongs to another process', () => {
    if (!fs.existsSync('/proc/self/stat')) return; // start times come from /proc (Linux)
    const dir = freshLockDir();
    // Our own PID with another start time: the process that wrote it is gone and its PID reused.
    fs.symlinkSync(JSON.stringify({ pid: process.pid, start: '1' }), path.join(dir, '0'));
    acquireProcessLock(dir)();
  });

  it('should let exactly one of many processes take over a killed holder’s lock at the same instant', async () => {
    const dir = freshLockDir();
    let holder = await contender();
    expect(await race([holder], dir)).toEqual(['won']);
    for (let round = 0; round < 2; round++) {
      await kill(holder);
      const contenders = await Promise.all(Array.from({ length: 6 }, () => contender()));
      const results = await race(contenders, dir);
      const winners = contenders.filter((_, i) => results[i] === 'won');
      expect(winners).toHaveLength(1);
      holder = winners[0];
      expect(results.filter((r) => r !== 'won')).toEqual(Array(5).fill(`refused ${holder.child.pid}`));
      for (const c of contenders) if (c !== holder) await kill(c);
    }
    // Only the newest generation is left behind.
    expect(fs.readdirSync(dir)).toHaveLength(1);
  });

  it('should let exactly one process win each of many races for a dead holder’s lock', async () => {
    // A PID that is certainly free: a process that has exited.
    const gone = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => gone.once('exit', resolve));
    const contenders = await Promise.all(Array.from({ length: 6 }, () => contender()));
    for (let round = 0; round < 50; round++) {
      const dir = freshLockDir();
      fs.symlinkSync(JSON.stringify({ pid: gone.pid }), path.join(dir, '0'));
      const results = await race(contenders, dir);
      expect(results.filter((r) => r === 'won')).toHaveLength(1);
      expect(results.filter((r) => r.startsWith('refused'))).toHaveLength(5);
    }
  });
});
