import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { SchedulerRegistry } from '@nestjs/schedule';
import type { AppConfig } from '../config/app-config.js';
import { RetentionScheduler } from './retention.scheduler.js';
import type { RetentionRound, RetentionService } from './retention.service.js';

/** Rounds that last until the test ends them, with the signal each was given. */
class FakeRetentionService implements Pick<RetentionService, 'runRound'> {
  readonly rounds: { signal?: AbortSignal; end: () => void }[] = [];

  runRound(signal?: AbortSignal): Promise<RetentionRound | null> {
    return new Promise((resolve) =>
      this.rounds.push({
        signal,
        end: () => resolve({ messagesDeleted: 0, bodiesDropped: 0, webhookEventsDeleted: 0, batches: 1, finished: true }),
      }),
    );
  }
}

function scheduler(enabled = true) {
  const registry = new SchedulerRegistry();
  const retention = new FakeRetentionService();
  const config = { retention: { enabled, intervalSeconds: 300 }, logRepeatIntervalMs: 60_000 } as AppConfig;
  return { registry, retention, scheduler: new RetentionScheduler(registry, retention as unknown as RetentionService, config) };
}

describe(RetentionScheduler.name, () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('should try a round every interval, never two at once in one instance', async () => {
    const { retention, scheduler: s } = scheduler();
    s.onApplicationBootstrap();
    jest.advanceTimersByTime(300_000);
    expect(retention.rounds).toHaveLength(1);
    jest.advanceTimersByTime(300_000);
    expect(retention.rounds).toHaveLength(1);
    retention.rounds[0].end();
    await jest.advanceTimersByTimeAsync(300_000);
    expect(retention.rounds).toHaveLength(2);
    retention.rounds[1].end();
    await s.beforeApplicationShutdown();
  });

  it('should stop the round in progress and wait for it on shutdown, then start no other', async () => {
    const { registry, retention, scheduler: s } = scheduler();
    s.onApplicationBootstrap();
    jest.advanceTimersByTime(300_000);
    let stopped = false;
    const shutdown = s.beforeApplicationShutdown().then(() => (stopped = true));
    expect(retention.rounds[0].signal?.aborted).toBe(true);
    await Promise.resolve();
    expect(stopped).toBe(false);
    retention.rounds[0].end();
    await shutdown;
    expect(registry.getIntervals()).toEqual([]);
    jest.advanceTimersByTime(900_000);
    expect(retention.rounds).toHaveLength(1);
  });

  it('should schedule nothing when MESSAGE_RETENTION_ENABLED is false', async () => {
    const { registry, retention, scheduler: s } = scheduler(false);
    s.onApplicationBootstrap();
    jest.advanceTimersByTime(900_000);
    expect(registry.getIntervals()).toEqual([]);
    expect(retention.rounds).toEqual([]);
    await s.beforeApplicationShutdown();
  });
});
