import { afterAll, beforeEach, describe, expect, it } from '@jest/globals';
import { ConsoleLogger, Logger, type LoggerService } from '@nestjs/common';
import type { AppConfig, RetentionConfig } from '../config/app-config.js';
import type { ScheduledRoundsRepository } from '../database/scheduled-rounds.repository.js';
import type { RetentionRepository } from './retention.repository.js';
import { RetentionService } from './retention.service.js';

const NOW = new Date('2026-06-01T12:00:00Z');
const DAY = 86_400_000;

/** Final messages in memory, by the time they became final; records every statement the service ran. */
class FakeRetentionRepository implements Pick<RetentionRepository, 'deleteFinishedBefore' | 'dropBodiesFinishedBefore'> {
  readonly calls: string[] = [];
  /** Called before each statement: lets a test act between two batches. */
  beforeBatch: () => void = () => undefined;

  constructor(readonly messages: { finishedAt: Date; bodyDroppedAt: Date | null }[]) {}

  async deleteFinishedBefore(cutoff: Date, limit: number): Promise<number> {
    this.beforeBatch();
    this.calls.push(`delete < ${cutoff.toISOString()} limit ${limit}`);
    const gone = this.messages.filter((m) => m.finishedAt < cutoff).slice(0, limit);
    for (const m of gone) this.messages.splice(this.messages.indexOf(m), 1);
    return gone.length;
  }

  async dropBodiesFinishedBefore(cutoff: Date, limit: number, now: Date): Promise<number> {
    this.beforeBatch();
    this.calls.push(`drop < ${cutoff.toISOString()} limit ${limit}`);
    const dropped = this.messages.filter((m) => m.bodyDroppedAt === null && m.finishedAt < cutoff).slice(0, limit);
    for (const m of dropped) m.bodyDroppedAt = now;
    return dropped.length;
  }

  /** Old webhook events, by when they were raised. */
  events: Date[] = [];

  async deleteWebhookEventsBefore(cutoff: Date, limit: number): Promise<number> {
    this.beforeBatch();
    this.calls.push(`events < ${cutoff.toISOString()} limit ${limit}`);
    const gone = this.events.filter((e) => e < cutoff).slice(0, limit);
    this.events = this.events.filter((e) => !gone.includes(e));
    return gone.length;
  }
}

class FakeScheduledRounds implements Pick<ScheduledRoundsRepository, 'claim'> {
  readonly claims: { name: string; owner: string; now: Date; minGapMs: number }[] = [];
  constructor(private readonly grant: boolean) {}

  async claim(name: string, owner: string, now: Date, minGapMs: number): Promise<boolean> {
    this.claims.push({ name, owner, now, minGapMs });
    return this.grant;
  }
}

/** What the service logs, as the arguments it passed. */
class LogRecorder implements LoggerService {
  calls: unknown[][] = [];
  private record = (...args: unknown[]) => void this.calls.push(args);
  log = this.record;
  error = this.record;
  warn = this.record;
}

const daysAgo = (days: number) => ({ finishedAt: new Date(NOW.getTime() - days * DAY), bodyDroppedAt: null });

function service(
  messages: { finishedAt: Date; bodyDroppedAt: Date | null }[],
  options: { config?: Partial<RetentionConfig>; grant?: boolean } = {},
) {
  const repo = new FakeRetentionRepository(messages);
  const rounds = new FakeScheduledRounds(options.grant ?? true);
  const config = {
    retention: { enabled: true, bodyDays: 7, rowDays: 90, batchSize: 2, intervalSeconds: 300, webhookDays: 30, ...options.config },
  };
  const retention = new RetentionService(
    repo as unknown as RetentionRepository,
    rounds as unknown as ScheduledRoundsRepository,
    { now: () => NOW },
    config as AppConfig,
  );
  return { retention, repo, rounds };
}

describe(RetentionService.name, () => {
  let logs: LogRecorder;
  beforeEach(() => {
    logs = new LogRecorder();
    Logger.overrideLogger(logs);
  });
  afterAll(() => {
    Logger.overrideLogger(new ConsoleLogger());
  });

  it('should delete expired messages in batches until a batch comes back short, then drop expired bodies the same way', async () => {
    const messages = [...[91, 92, 93, 94, 95].map(daysAgo), ...[8, 9, 10].map(daysAgo), daysAgo(6), daysAgo(0)];
    const { retention, repo } = service(messages);
    const round = await retention.purge();
    expect(round).toEqual({ messagesDeleted: 5, bodiesDropped: 3, webhookEventsDeleted: 0, batches: 6, finished: true });
    const rowCutoff = new Date(NOW.getTime() - 90 * DAY).toISOString();
    const bodyCutoff = new Date(NOW.getTime() - 7 * DAY).toISOString();
    expect(repo.calls).toEqual([
      `delete < ${rowCutoff} limit 2`,
      `delete < ${rowCutoff} limit 2`,
      `delete < ${rowCutoff} limit 2`,
      `drop < ${bodyCutoff} limit 2`,
      `drop < ${bodyCutoff} limit 2`,
      `events < ${new Date(NOW.getTime() - 30 * DAY).toISOString()} limit 2`,
    ]);
    expect(messages.map((m) => m.bodyDroppedAt)).toEqual([NOW, NOW, NOW, null, null]);
  });

  it('should run one more, empty batch when the expired messages fill whole batches', async () => {
    const { retention, repo } = service([90.5, 91, 92, 93].map(daysAgo), { config: { batchSize: 2 } });
    expect(await retention.purge()).toEqual({ messagesDeleted: 4, bodiesDropped: 0, webhookEventsDeleted: 0, batches: 5, finished: true });
    expect(repo.calls.filter((c) => c.startsWith('delete'))).toHaveLength(3);
  });

  it('should drop bodies of every final message when the body retention is 0 days', async () => {
    const messages = [daysAgo(0.001), daysAgo(1)];
    const { retention } = service(messages, { config: { bodyDays: 0, batchSize: 10 } });
    expect(await retention.purge()).toMatchObject({ bodiesDropped: 2, finished: true });
  });

  it('should stop between two batches when the signal aborts, and say the round did not finish', async () => {
    const stop = new AbortController();
    const { retention, repo } = service([91, 92, 93, 94, 95].map(daysAgo));
    repo.beforeBatch = () => {
      if (repo.calls.length === 1) stop.abort();
    };
    expect(await retention.purge({ signal: stop.signal })).toEqual({
      messagesDeleted: 4,
      bodiesDropped: 0,
      webhookEventsDeleted: 0,
      batches: 2,
      finished: false,
    });
    expect(repo.calls.some((c) => c.startsWith('drop'))).toBe(false);
  });

  it('should run no batch when its deadline has passed', async () => {
    const { retention, repo } = service([daysAgo(91)]);
    expect(await retention.purge({ deadline: 0 })).toEqual({
      messagesDeleted: 0,
      bodiesDropped: 0,
      webhookEventsDeleted: 0,
      batches: 0,
      finished: false,
    });
    expect(repo.calls).toEqual([]);
  });

  it('should purge nothing and answer null when another instance holds this round', async () => {
    const { retention, repo, rounds } = service([daysAgo(91)], { grant: false });
    expect(await retention.runRound()).toBeNull();
    expect(repo.calls).toEqual([]);
    expect(rounds.claims).toEqual([expect.objectContaining({ name: 'message-retention', now: NOW, minGapMs: 270_000 })]);
  });

  it('should claim each round under an owner of its own, and log a round only when it did something', async () => {
    const { retention, rounds } = service([daysAgo(91)]);
    expect(await retention.runRound()).toEqual({
      messagesDeleted: 1,
      bodiesDropped: 0,
      webhookEventsDeleted: 0,
      batches: 3,
      finished: true,
    });
    await retention.runRound();
    expect(new Set(rounds.claims.map((c) => c.owner)).size).toBe(2);
    expect(logs.calls).toEqual([
      [
        { messagesDeleted: 1, bodiesDropped: 0, webhookEventsDeleted: 0, batches: 3, finished: true },
        'message retention round',
        'RetentionService',
      ],
    ]);
  });
});
