import { databaseUnavailability } from '../common/errors/database-unavailable.js';
import type { MessageRow, NewMessage } from './message.types.js';

/** The one statement the batcher needs: a multi-row INSERT … ON CONFLICT DO NOTHING RETURNING *. */
export interface MessageInserter {
  /** The rows written, in any order; none for a message whose idempotency key was already taken. */
  insertMany(messages: NewMessage[]): Promise<MessageRow[]>;
}

/**
 * One message's outcome: its row; `null` when its idempotency key was already taken (by an
 * earlier request or by a message before it in the same statement); or the error of its insert.
 */
export type InsertOutcome = { row: MessageRow | null } | { error: unknown };

interface Group {
  messages: NewMessage[];
  settle(outcomes: InsertOutcome[]): void;
}

/**
 * Group commit for accepted messages. With no INSERT in flight, messages are written at once
 * (no added latency at low load); while one is in flight, new messages wait and are then written
 * together, in one multi-row INSERT and so one commit. Every caller is answered only after the
 * statement holding its message committed, so durability is the same as one INSERT each.
 *
 * Rows come back from RETURNING in no guaranteed order and conflicts return none, so rows are
 * matched to callers by `message_id` (a random UUID per message; a statement never holds two
 * messages with the same one). A group (one caller's messages, e.g. a batch request) is never
 * split between statements unless it alone exceeds `maxRows`.
 *
 * When a statement fails for any reason but the database being unreachable, its messages are
 * written again one by one, so that one bad row cannot fail its neighbours.
 */
export class MessageInsertBatcher {
  private readonly queue: Group[] = [];
  private inFlight = false;

  constructor(
    private readonly inserter: MessageInserter,
    private readonly maxRows: number,
  ) {
    if (!Number.isInteger(maxRows) || maxRows < 1) throw new RangeError('maxRows must be a positive integer');
  }

  /** Writes one message: its row, or null when its idempotency key was already taken. */
  async insert(message: NewMessage): Promise<MessageRow | null> {
    const [outcome] = await this.insertAll([message]);
    if ('error' in outcome) throw outcome.error;
    return outcome.row;
  }

  /** Writes the messages together (one statement when they fit); one outcome per message, in order. Never rejects. */
  insertAll(messages: NewMessage[]): Promise<InsertOutcome[]> {
    if (!messages.length) return Promise.resolve([]);
    if (new Set(messages.map((m) => m.message_id)).size !== messages.length)
      return Promise.resolve(messages.map(() => ({ error: new Error('two messages with the same message_id in one insert') })));
    const groups: Promise<InsertOutcome[]>[] = [];
    for (let start = 0; start < messages.length; start += this.maxRows) {
      const part = messages.slice(start, start + this.maxRows);
      groups.push(new Promise((settle) => this.queue.push({ messages: part, settle })));
    }
    this.flush();
    return Promise.all(groups).then((parts) => parts.flat());
  }

  private flush(): void {
    if (this.inFlight || !this.queue.length) return;
    this.inFlight = true;
    const groups = this.nextStatement();
    void this.write(groups).finally(() => {
      this.inFlight = false;
      this.flush();
    });
  }

  /** The waiting groups, oldest first, that fit in one statement: as many rows as allowed, distinct message_ids. */
  private nextStatement(): Group[] {
    const taken: Group[] = [];
    const ids = new Set<string>();
    while (this.queue.length) {
      const next = this.queue[0].messages;
      const fits = ids.size + next.length <= this.maxRows && next.every((m) => !ids.has(m.message_id));
      if (taken.length && !fits) break;
      for (const m of next) ids.add(m.message_id);
      taken.push(this.queue.shift() as Group);
    }
    return taken;
  }

  private async write(groups: Group[]): Promise<void> {
    const messages = groups.flatMap((g) => g.messages);
    let outcomes: InsertOutcome[];
    try {
      const rows = new Map((await this.inserter.insertMany(messages)).map((r) => [r.message_id, r]));
      outcomes = messages.map((m) => ({ row: rows.get(m.message_id) ?? null }));
    } catch (err) {
      outcomes =
        messages.length === 1 || databaseUnavailability(err) ? messages.map(() => ({ error: err })) : await this.oneByOne(messages);
    }
    let at = 0;
    for (const g of groups) {
      g.settle(outcomes.slice(at, at + g.messages.length));
      at += g.messages.length;
    }
  }

  /** In order, so that of two messages sharing an idempotency key the first still wins. */
  private async oneByOne(messages: NewMessage[]): Promise<InsertOutcome[]> {
    const outcomes: InsertOutcome[] = [];
    for (const m of messages) {
      try {
        const [row] = await this.inserter.insertMany([m]);
        outcomes.push({ row: row ?? null });
      } catch (error) {
        outcomes.push({ error });
      }
    }
    return outcomes;
  }
}
