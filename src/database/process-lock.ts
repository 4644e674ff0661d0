import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/** The process that holds a lock: enough to tell, after a crash, whether it still runs. */
export interface LockHolder {
  pid: number;
  /** Start time of the process (field 22 of /proc/PID/stat, Linux): a reused PID has another. */
  start?: string;
  /** /proc/sys/kernel/random/boot_id (Linux): a holder from before a reboot is gone. */
  boot?: string;
}

export class LockHeldError extends Error {
  constructor(readonly holder: LockHolder) {
    super(`held by the running process ${holder.pid}`);
    this.name = 'LockHeldError';
  }
}

const RELEASED = 'released';
const GENERATION = /^\d+$/;

/**
 * Takes an exclusive lock for the life of this process, or throws LockHeldError naming the
 * running process that holds it. Nothing refreshes the lock, so a blocked event loop or a
 * stopped (SIGSTOP) holder keeps it; a holder that died (even by SIGKILL) leaves it at once.
 *
 * `lockDir` holds numbered generations: symlinks whose target is the holder's record (a symlink
 * is created exclusively and carries its content in one step, as Emacs' lock files do). The
 * newest generation is the lock. Taking over a dead holder's generation N means creating N+1,
 * which only one process can do; a process that created a generation and then sees a newer one
 * lost a race and steps back. The newest generation is never deleted (release marks it
 * released), so a generation number is never created twice while it could still matter.
 */
export function acquireProcessLock(lockDir: string): () => void {
  fs.mkdirSync(lockDir, { recursive: true, mode: 0o700 });
  const me = currentProcess();
  // Each pass ends in success, a refusal, or a newer generation made by another process meanwhile.
  for (let attempt = 0; attempt < 100; attempt++) {
    const newest = generations(lockDir).at(-1);
    let next = 0;
    if (newest !== undefined) {
      const holder = readHolder(path.join(lockDir, String(newest)));
      if (holder === 'vanished') continue;
      if (holder && isRunning(holder, me)) throw new LockHeldError(holder);
      next = newest + 1;
    }
    const mine = path.join(lockDir, String(next));
    try {
      fs.symlinkSync(JSON.stringify(me), mine);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw err;
    }
    const current = generations(lockDir);
    if (current.at(-1) !== next) {
      fs.rmSync(mine, { force: true });
      continue;
    }
    // Older generations, and temporary files a process killed while releasing left behind.
    for (const name of fs.readdirSync(lockDir)) {
      if (GENERATION.test(name) ? Number(name) < next : name.endsWith('.tmp')) fs.rmSync(path.join(lockDir, name), { force: true });
    }
    return () => release(mine, me);
  }
  throw new Error(`could not take the lock in ${lockDir}: it kept changing hands`);
}

function release(mine: string, me: LockHolder): void {
  // Still ours? (It always should be; never mark another holder's generation released.)
  const holder = readHolder(mine);
  if (holder === 'vanished' || holder?.pid !== me.pid || holder.start !== me.start) return;
  const temp = `${mine}.${randomBytes(6).toString('hex')}.tmp`;
  fs.symlinkSync(RELEASED, temp);
  fs.renameSync(temp, mine);
}

function generations(lockDir: string): number[] {
  return fs
    .readdirSync(lockDir)
    .filter((name) => GENERATION.test(name))
    .map(Number)
    .sort((a, b) => a - b);
}

/** The generation's holder; undefined when released or unreadable (nobody holds it). */
function readHolder(file: string): LockHolder | undefined | 'vanished' {
  let target: string;
  try {
    target = fs.readlinkSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'vanished';
    if (code === 'EINVAL') return undefined; // not a symlink: not ours
    throw err;
  }
  if (target === RELEASED) return undefined;
  try {
    const record = JSON.parse(target) as LockHolder;
    return Number.isSafeInteger(record.pid) && record.pid > 0 ? record : undefined;
  } catch {
    return undefined;
  }
}

function currentProcess(): LockHolder {
  return { pid: process.pid, start: procStat(process.pid)?.start, boot: readOptional('/proc/sys/kernel/random/boot_id') };
}

function isRunning(holder: LockHolder, me: LockHolder): boolean {
  if (holder.boot && me.boot && holder.boot !== me.boot) return false;
  const stat = procStat(holder.pid);
  if (stat) return stat.state !== 'Z' && stat.state !== 'X' && (holder.start === undefined || stat.start === holder.start);
  // No /proc (or not for this process, e.g. another user's under hidepid): ask the kernel.
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}

/** State (field 3) and start time (field 22) from /proc/PID/stat, where /proc exists. */
function procStat(pid: number): { state: string; start: string } | undefined {
  const stat = readOptional(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  // The command name (field 2) is in parentheses and may hold spaces and parentheses itself.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], start: fields[19] };
}

function readOptional(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}
