import { describe, expect, it } from '@jest/globals';
import { GroupCommit } from './group-commit.js';

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('GroupCommit', () => {
  it('writes items submitted together as one batch and answers each caller its own result', async () => {
    const batches: number[][] = [];
    const gc = new GroupCommit<number, number>(async (items) => {
      batches.push(items);
      return items.map((i) => i * 10);
    }, 100);
    const results = await Promise.all([1, 2, 3].map((i) => gc.submit(i)));
    expect(results).toEqual([10, 20, 30]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('queues what arrives during a write and sends it as the next batch, capped at maxBatch', async () => {
    const gate = deferred<void>();
    const batches: number[][] = [];
    const gc = new GroupCommit<number, number>(async (items) => {
      batches.push(items);
      if (batches.length === 1) await gate.promise;
      return items;
    }, 3);
    const first = gc.submit(0);
    await new Promise((r) => setImmediate(r));
    const later = [1, 2, 3, 4, 5].map((i) => gc.submit(i));
    await new Promise((r) => setImmediate(r));
    expect(batches).toEqual([[0]]);
    expect(gc.waiting).toBe(5);
    gate.resolve();
    expect(await Promise.all([first, ...later])).toEqual([0, 1, 2, 3, 4, 5]);
    expect(batches).toEqual([[0], [1, 2, 3], [4, 5]]);
  });

  it('rejects every caller of a failed batch and keeps serving later ones', async () => {
    let fail = true;
    const gc = new GroupCommit<number, number>(async (items) => {
      if (fail) throw new Error('boom');
      return items;
    }, 10);
    const failed = await Promise.allSettled([gc.submit(1), gc.submit(2)]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect(await gc.submit(3)).toBe(3);
  });

  it('refuses a write that answers the wrong number of results', async () => {
    const gc = new GroupCommit<number, number>(async () => [1], 10);
    await expect(Promise.all([gc.submit(1), gc.submit(2)])).rejects.toThrow('a batch of 2 answered 1 results');
  });

  it('writes up to maxInFlight batches at once', async () => {
    const gates = [deferred<void>(), deferred<void>()];
    let concurrent = 0;
    let peak = 0;
    const gc = new GroupCommit<number, number>(
      async (items) => {
        concurrent++;
        peak = Math.max(peak, concurrent);
        await gates[items[0] % 2].promise;
        concurrent--;
        return items;
      },
      1,
      2,
    );
    const all = Promise.all([0, 1, 2, 3].map((i) => gc.submit(i)));
    await new Promise((r) => setImmediate(r));
    expect(concurrent).toBe(2);
    gates[0].resolve();
    gates[1].resolve();
    await all;
    expect(peak).toBe(2);
  });
});
