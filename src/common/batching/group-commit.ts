/**
 * Turns many concurrent single requests into few batched ones ("group commit"): whatever arrives
 * while a batch is being written waits and goes out together in the next one. Nothing is delayed
 * when the path is idle beyond the current turn of the event loop (so items submitted together,
 * say by one claimed batch, share one statement), and under load each batch is as large as the
 * previous one took time. Every caller gets its own item's answer, or the batch's error.
 */
export class GroupCommit<I, O> {
  private queue: { item: I; resolve: (out: O) => void; reject: (err: unknown) => void }[] = [];
  private running = 0;
  private scheduled = false;

  /**
   * `write` answers one output per item, in order. `maxBatch` caps the items per batch;
   * `maxInFlight` how many batches may be written at once.
   */
  constructor(
    private readonly write: (items: I[]) => Promise<O[]>,
    private readonly maxBatch: number,
    private readonly maxInFlight = 1,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.scheduled && this.running < this.maxInFlight) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.pump();
        });
      }
    });
  }

  /** Items waiting for a batch (for tests and metrics). */
  get waiting(): number {
    return this.queue.length;
  }

  private pump(): void {
    while (this.running < this.maxInFlight && this.queue.length) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.running++;
      void this.flush(batch).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async flush(batch: typeof this.queue): Promise<void> {
    try {
      const out = await this.write(batch.map((b) => b.item));
      if (out.length !== batch.length) throw new Error(`a batch of ${batch.length} answered ${out.length} results`);
      batch.forEach((b, i) => b.resolve(out[i]));
    } catch (err) {
      for (const b of batch) b.reject(err);
    }
  }
}
