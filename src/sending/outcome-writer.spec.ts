import { describe, expect, it } from '@jest/globals';
import pg from 'pg';
import type { AppConfig } from '../config/app-config.js';
import { DatabaseUnavailableError } from '../common/errors/database-unavailable.js';
import type { BatchOutcome } from './message.types.js';
import type { MessagesRepository } from './messages.repository.js';
import { OutcomeWriter, type Outcome } from './outcome-writer.js';

const clock = { now: () => new Date('2026-03-10T12:00:00Z') };
const config = { logRepeatIntervalMs: 60_000 } as AppConfig;

const outcome = (id: string): Outcome => ({
  lease: { id, token: `t${id}` },
  finish: { status: 'sent', providerId: 1, rejected: [] },
  reservations: [{ reservation: { id: `r${id}`, providerId: 1 }, counts: true }],
  attempts: [],
  providerId: 1,
});

/** A repository whose batched write refuses any batch holding a poisoned message, as PostgreSQL refuses a bad row. */
function repository(poisoned: Set<string>, stale = new Set<string>()) {
  const calls: { ids: string[]; withAttempts: boolean }[] = [];
  const fake = {
    calls,
    async finishBatch(outcomes: BatchOutcome[], _now: Date, withAttempts = true): Promise<Set<string>> {
      const ids = outcomes.map((o) => o.lease.id);
      calls.push({ ids, withAttempts });
      if (ids.some((id) => poisoned.has(id)))
        throw Object.assign(new pg.DatabaseError('invalid byte sequence', 0, 'error'), { code: '22021' });
      return new Set(ids.filter((id) => !stale.has(id)));
    },
  };
  return fake;
}

describe('OutcomeWriter', () => {
  it('writes outcomes submitted together in one batch and answers each whether its write won', async () => {
    const repo = repository(new Set(), new Set(['2']));
    const writer = new OutcomeWriter(repo as unknown as MessagesRepository, clock, config);
    expect(await Promise.all(['1', '2', '3'].map((id) => writer.write(outcome(id))))).toEqual([true, false, true]);
    expect(repo.calls).toEqual([{ ids: ['1', '2', '3'], withAttempts: true }]);
  });

  it('writes the neighbours of an outcome the database refuses, one by one, and fails only that one', async () => {
    const repo = repository(new Set(['2']));
    const writer = new OutcomeWriter(repo as unknown as MessagesRepository, clock, config);
    const results = await Promise.allSettled(['1', '2', '3'].map((id) => writer.write(outcome(id))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(results[0]).toEqual({ status: 'fulfilled', value: true });
    expect(repo.calls).toEqual([
      { ids: ['1', '2', '3'], withAttempts: true },
      { ids: ['1', '2', '3'], withAttempts: false },
      { ids: ['1'], withAttempts: false },
      { ids: ['2'], withAttempts: false },
      { ids: ['3'], withAttempts: false },
    ]);
  });

  it('does not split a batch when the database is unreachable: it keeps the whole batch waiting instead', async () => {
    let down = 1;
    const calls: string[][] = [];
    const repo = {
      async finishBatch(outcomes: BatchOutcome[]): Promise<Set<string>> {
        calls.push(outcomes.map((o) => o.lease.id));
        if (down-- > 0) throw new DatabaseUnavailableError('connection refused');
        return new Set(outcomes.map((o) => o.lease.id));
      },
    };
    const writer = new OutcomeWriter(repo as unknown as MessagesRepository, clock, config);
    expect(await Promise.all(['1', '2'].map((id) => writer.write(outcome(id))))).toEqual([true, true]);
    expect(calls).toEqual([
      ['1', '2'],
      ['1', '2'],
    ]);
  });
});
