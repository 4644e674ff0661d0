import { describe, expect, it } from '@jest/globals';
import { DatabaseUnavailableError } from '../common/errors/database-unavailable.js';
import { MessageInsertBatcher, type InsertOutcome, type MessageInserter } from './message-insert-batcher.js';
import type { MessageRow, NewMessage } from './message.types.js';

let counter = 0;

function message(overrides: Partial<NewMessage> = {}): NewMessage {
  counter += 1;
  return {
    api_key_id: 1,
    idempotency_key: null,
    request_hash: null,
    status: 'queued',
    is_test: false,
    message_id: `<m${counter}@test>`,
    from_email: null,
    from_name: null,
    reply_to: null,
    to_addresses: ['a@example.com'],
    cc_addresses: [],
    bcc_addresses: [],
    suppressed_recipients: [],
    subject: `s${counter}`,
    text_body: 'x',
    html_body: null,
    headers: {},
    attachments: [],
    pinned_provider_id: null,
    send_at: null,
    next_attempt_at: new Date(0),
    ...overrides,
  };
}

/**
 * A table in memory with the idempotency index, whose statements finish only when the test says:
 * `statements` records the messages of each one, in order.
 */
class FakeMessages implements MessageInserter {
  readonly rows: MessageRow[] = [];
  readonly statements: NewMessage[][] = [];
  private readonly pending: (() => void)[] = [];
  /** Fails a statement holding a message for which this returns an error. */
  failWhen: (m: NewMessage) => Error | null = () => null;
  /** Fails every statement of more than one row with this error. */
  failBatchesWith: Error | null = null;
  holdStatements = true;

  async insertMany(messages: NewMessage[]): Promise<MessageRow[]> {
    this.statements.push(messages);
    if (this.holdStatements) await new Promise<void>((resolve) => this.pending.push(resolve));
    if (this.failBatchesWith && messages.length > 1) throw this.failBatchesWith;
    for (const m of messages) {
      const err = this.failWhen(m);
      if (err) throw err;
    }
    const written: MessageRow[] = [];
    for (const m of messages) {
      const taken =
        m.idempotency_key !== null &&
        this.rows.some((r) => (r.api_key_id ?? 0) === (m.api_key_id ?? 0) && r.idempotency_key === m.idempotency_key);
      if (taken) continue;
      const row = { ...m, id: String(this.rows.length + 1) } as unknown as MessageRow;
      this.rows.push(row);
      written.push(row);
    }
    return written.reverse(); // RETURNING promises no order
  }

  /** Lets the oldest statement still waiting finish. */
  release(): void {
    const next = this.pending.shift();
    if (!next) throw new Error('no statement is waiting');
    next();
  }

  get waiting(): number {
    return this.pending.length;
  }
}

const settle = () => new Promise((r) => setImmediate(r));

function rowOf(outcome: InsertOutcome): MessageRow | null {
  if ('error' in outcome) throw outcome.error;
  return outcome.row;
}

describe(MessageInsertBatcher.name, () => {
  it('should write a message at once when no insert is in flight', async () => {
    const db = new FakeMessages();
    db.holdStatements = false;
    const batcher = new MessageInsertBatcher(db, 500);
    const m = message();
    const row = await batcher.insert(m);
    expect(row?.message_id).toBe(m.message_id);
    expect(db.statements).toEqual([[m]]);
  });

  it('should write the messages that arrive while an insert is in flight together, in one statement, after it', async () => {
    const db = new FakeMessages();
    const batcher = new MessageInsertBatcher(db, 500);
    const first = message();
    const later = [message(), message(), message()];
    const firstDone = batcher.insert(first);
    const laterDone = later.map((m) => batcher.insert(m));
    await settle();
    expect(db.statements).toEqual([[first]]);

    db.release();
    expect((await firstDone)?.message_id).toBe(first.message_id);
    await settle();
    expect(db.statements).toHaveLength(2);
    expect(db.statements[1]).toEqual(later);

    let answered = false;
    void Promise.all(laterDone).then(() => (answered = true));
    await settle();
    expect(answered).toBe(false); // nobody is answered before their statement finished
    db.release();
    const rows = await Promise.all(laterDone);
    expect(rows.map((r) => r?.message_id)).toEqual(later.map((m) => m.message_id));
    expect(db.rows).toHaveLength(4);
  });

  it('should match each caller to its own row whatever order RETURNING gives', async () => {
    const db = new FakeMessages();
    db.holdStatements = false;
    const batcher = new MessageInsertBatcher(db, 500);
    const messages = Array.from({ length: 50 }, () => message());
    const rows = await Promise.all(messages.map((m) => batcher.insert(m)));
    rows.forEach((row, i) => expect(row?.subject).toBe(messages[i].subject));
  });

  it('should cap rows per statement and never split a group that fits', async () => {
    const db = new FakeMessages();
    const batcher = new MessageInsertBatcher(db, 5);
    const blocker = batcher.insert(message());
    await settle();
    const a = [message(), message(), message()];
    const b = [message(), message(), message()];
    const single = message();
    const doneA = batcher.insertAll(a);
    const doneB = batcher.insertAll(b);
    const doneSingle = batcher.insert(single);
    db.release();
    await blocker;
    await settle();
    expect(db.statements[1]).toEqual(a); // b does not fit beside a: it waits whole
    db.release();
    await doneA;
    await settle();
    expect(db.statements[2]).toEqual([...b, single]);
    db.release();
    expect((await doneB).map(rowOf).map((r) => r?.message_id)).toEqual(b.map((m) => m.message_id));
    expect((await doneSingle)?.message_id).toBe(single.message_id);
  });

  it('should split a group larger than the cap into statements of at most the cap', async () => {
    const db = new FakeMessages();
    db.holdStatements = false;
    const batcher = new MessageInsertBatcher(db, 4);
    const messages = Array.from({ length: 10 }, () => message());
    const outcomes = await batcher.insertAll(messages);
    expect(db.statements.map((s) => s.length)).toEqual([4, 4, 2]);
    expect(outcomes.map(rowOf).map((r) => r?.message_id)).toEqual(messages.map((m) => m.message_id));
  });

  it('should answer null for a message whose idempotency key was taken, also by a message of the same statement', async () => {
    const db = new FakeMessages();
    db.holdStatements = false;
    const batcher = new MessageInsertBatcher(db, 500);
    await batcher.insert(message({ idempotency_key: 'old' }));
    const outcomes = await batcher.insertAll([
      message({ idempotency_key: 'old' }),
      message({ idempotency_key: 'k' }),
      message({ idempotency_key: 'k' }),
      message({ idempotency_key: 'k', api_key_id: 2 }),
    ]);
    expect(outcomes.map((o) => rowOf(o) !== null)).toEqual([false, true, false, true]);
  });

  it('should retry the rows of a failed statement one by one, so one bad row fails alone', async () => {
    const db = new FakeMessages();
    const batcher = new MessageInsertBatcher(db, 500);
    const bad = message({ subject: 'bad' });
    db.failWhen = (m) => (m.subject === 'bad' ? new Error('value too long') : null);
    const blocker = batcher.insert(message());
    await settle();
    const good = [message(), message()];
    const done = batcher.insertAll([good[0], bad, good[1]]);
    db.holdStatements = false;
    db.release();
    await blocker;
    const outcomes = await done;
    expect(outcomes.map((o) => ('error' in o ? 'error' : o.row?.message_id))).toEqual([good[0].message_id, 'error', good[1].message_id]);
    expect(db.statements.slice(1).map((s) => s.length)).toEqual([3, 1, 1, 1]);
  });

  it('should fail every row of a statement at once, without retrying, when the database is unreachable', async () => {
    const db = new FakeMessages();
    db.holdStatements = false;
    const down = new DatabaseUnavailableError('connection refused');
    db.failBatchesWith = down;
    db.failWhen = () => down;
    const batcher = new MessageInsertBatcher(db, 500);
    const outcomes = await batcher.insertAll([message(), message(), message()]);
    expect(outcomes).toEqual([{ error: down }, { error: down }, { error: down }]);
    expect(db.statements).toHaveLength(1);
    await expect(batcher.insert(message())).rejects.toBe(down);
  });

  it('should keep writing after a statement failed', async () => {
    const db = new FakeMessages();
    db.holdStatements = false;
    db.failWhen = () => new DatabaseUnavailableError('gone');
    const batcher = new MessageInsertBatcher(db, 500);
    await expect(batcher.insert(message())).rejects.toThrow('gone');
    db.failWhen = () => null;
    expect(await batcher.insert(message())).not.toBeNull();
  });

  it('should refuse a group holding one message_id twice, and put a message_id already in a statement in the next one', async () => {
    const db = new FakeMessages();
    const batcher = new MessageInsertBatcher(db, 500);
    const twice = message();
    const refused = await batcher.insertAll([twice, { ...twice }]);
    expect(refused.every((o) => 'error' in o)).toBe(true);
    expect(db.statements).toHaveLength(0);

    const blocker = batcher.insert(message());
    await settle();
    const a = message();
    const doneA = batcher.insert(a);
    const doneCopy = batcher.insert({ ...a, subject: 'copy' });
    db.holdStatements = false;
    db.release();
    await Promise.all([blocker, doneA, doneCopy]);
    expect(db.statements.slice(1).map((s) => s.length)).toEqual([1, 1]);
  });

  it('should refuse a cap below one', () => {
    expect(() => new MessageInsertBatcher(new FakeMessages(), 0)).toThrow(RangeError);
  });
});
