/** Child processes and CPU accounting for the end-to-end benchmarks. */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url)); // dist/bench
export const SERVICE_MAIN = path.resolve(here, '../src/main.js');
const SINK_MAIN = path.resolve(here, 'smtp-sink.js');

export type SinkStats = { count: number; bytes: number; connections: number; first: number; last: number };

/** The counting SMTP sink (bench/smtp-sink.ts) in a child process of its own. */
export class Sink {
  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async start(): Promise<Sink> {
    const child = fork(SINK_MAIN, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m: { port: number }) => resolve(m.port));
      child.once('exit', (code) => reject(new Error(`sink exited with ${code}`)));
    });
    return new Sink(child, port);
  }

  reset(): void {
    this.child.send('reset');
  }

  stats(): Promise<SinkStats> {
    return new Promise((resolve) => {
      this.child.once('message', (m: SinkStats) => resolve(m));
      this.child.send('stats');
    });
  }

  /** Resolves when `n` messages have arrived since the last reset. */
  waitFor(n: number, timeoutMs: number): Promise<SinkStats> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(async () => {
        this.child.off('message', onMessage);
        reject(new Error(`sink: ${(await this.stats()).count} of ${n} messages after ${timeoutMs} ms`));
      }, timeoutMs);
      const onMessage = (m: SinkStats & { reached?: number }) => {
        if (m.reached !== n) return;
        clearTimeout(timer);
        this.child.off('message', onMessage);
        resolve(m);
      };
      this.child.on('message', onMessage);
      this.child.send({ notifyAt: n });
    });
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}

export async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

export interface ServiceChild {
  child: ChildProcess;
  url: string;
  output(): string;
  stop(): Promise<void>;
}

/** `node dist/src/main.js` on a free port, ready once /health/ready answers 200. */
export async function startService(env: Record<string, string | undefined>): Promise<ServiceChild> {
  const port = await freePort();
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries({
    ...process.env,
    HOST: '127.0.0.1',
    LOG_FORMAT: 'json',
    OUTBOUND_ALLOW: '127.0.0.1',
    ...env,
    PORT: String(port),
  }))
    if (v !== undefined) childEnv[k] = v;
  const child = spawn(process.execPath, [SERVICE_MAIN], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (c: Buffer) => (out = (out + c.toString('utf8')).slice(-20_000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const service: ServiceChild = {
    child,
    url,
    output: () => out,
    stop: async () => {
      if (!exited) child.kill('SIGTERM');
      await exit;
    },
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`service exited before it was ready:\n${out}`);
    try {
      if ((await fetch(`${url}/health/ready`)).status === 200) return service;
    } catch {
      // not yet listening
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`service not ready after 60 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

const TICK = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used so far, from /proc. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICK;
  } catch {
    return 0;
  }
}

/** CPU seconds of every live process named `postgres` (the server's backends and helpers). */
export function postgresCpuSeconds(): number {
  let sum = 0;
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === 'postgres') sum += cpuSeconds(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return sum;
}

/** Busy and total CPU seconds of the whole machine so far, from /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  const [, ...f] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const n = f.map(Number);
  const idle = n[3] + n[4];
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / TICK, total: total / TICK };
}

/** Resident set size of a process in bytes (VmRSS in /proc/<pid>/status), 0 once it is gone. */
export function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export interface RssStats {
  /** Highest and mean sum over the processes, in bytes. */
  peak: number;
  mean: number;
  /** Highest of any one process. */
  peakOne: number;
  samples: number;
}

/** Samples the RSS of some processes every `everyMs` until stopped. */
export function sampleRss(pids: number[], everyMs = 200): { stop(): RssStats } {
  let peak = 0;
  let peakOne = 0;
  let sum = 0;
  let samples = 0;
  const take = () => {
    const each = pids.map(rssBytes);
    const total = each.reduce((a, b) => a + b, 0);
    peak = Math.max(peak, total);
    peakOne = Math.max(peakOne, ...each);
    sum += total;
    samples += 1;
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      take();
      return { peak, mean: sum / samples, peakOne, samples };
    },
  };
}
