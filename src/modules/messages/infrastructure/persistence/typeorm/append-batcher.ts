/**
 * Group commit for sends: while batches are being stored, new sends queue up, and the next batch
 * takes all of them in one statement and one commit. Under low load every send goes alone and at
 * once; under high load the per-commit cost is shared. Sends with the same (sender, clientId)
 * that are queued or in flight together share one attempt.
 *
 * One batch in flight is the rule; a second (up to `maxInFlight`) starts only while at least
 * `extraBatchAt` sends wait that it could take (sends to a chat in flight wait for that batch
 * anyway). A batch costs the database about the same for one send as for a dozen, so at moderate
 * load a second statement in flight would mostly split the same sends over twice the statements;
 * under heavy load the queue passes the mark and both run.
 *
 * Order: sends to one chat are stored in the order they were submitted. A batch never takes a
 * send whose chat is in a batch still in flight (two concurrent batches would number that chat
 * in whichever order they got its lock), and `store` numbers each chat's sends of a batch in
 * input order.
 */
export class AppendBatcher<In extends { chatId: string; senderId: string; clientId: string | null }, Out> {
  private queue: Array<{ input: In; resolve: (out: Out) => void; reject: (error: unknown) => void }> = [];
  private inFlight = 0;
  /** Chats with sends in a batch in flight. */
  private readonly busyChats = new Set<string>();
  private readonly sameSend = new Map<string, Promise<Out>>();

  constructor(
    private readonly limits: { maxInFlight: number; maxBatch: number; extraBatchAt: number },
    /** Stores a batch; returns one settled result per input, in order. */
    private readonly store: (inputs: In[]) => Promise<Array<PromiseSettledResult<Out>>>,
    /** The answer for a send that repeats one already queued or in flight. */
    private readonly repeat: (first: Out, input: In) => Promise<Out>,
  ) {}

  submit(input: In): Promise<Out> {
    const key = input.clientId ? `${input.senderId}:${input.clientId}` : undefined;
    const first = key ? this.sameSend.get(key) : undefined;
    if (first) return first.then((out) => this.repeat(out, input));
    const result = new Promise<Out>((resolve, reject) => this.queue.push({ input, resolve, reject }));
    if (key) {
      this.sameSend.set(key, result);
      const forget = () => this.sameSend.delete(key);
      result.then(forget, forget);
    }
    this.pump();
    return result;
  }

  private pump(): void {
    while (this.inFlight < this.limits.maxInFlight && this.queue.length > 0) {
      if (this.inFlight > 0 && this.readyToGo() < this.limits.extraBatchAt) return; // they wait for the batch in flight
      const batch = this.takeBatch();
      if (batch.length === 0) return; // every queued send waits for its chat's batch in flight
      const chats = new Set(batch.map((b) => b.input.chatId));
      for (const chat of chats) this.busyChats.add(chat);
      this.inFlight++;
      this.store(batch.map((b) => b.input)).then(
        (results) => {
          this.finished(chats);
          results.forEach((r, i) => (r.status === 'fulfilled' ? batch[i].resolve(r.value) : batch[i].reject(r.reason)));
        },
        (error: unknown) => {
          this.finished(chats);
          batch.forEach((b) => b.reject(error));
        },
      );
    }
  }

  /**
   * A batch is stored: the next one starts before this one's sends are answered. Answering them
   * fans their messages out, and those socket writes take a while; meanwhile the database is
   * already storing the next batch, whose statement would otherwise wait behind them.
   */
  private finished(chats: Set<string>): void {
    for (const chat of chats) this.busyChats.delete(chat);
    this.inFlight--;
    this.pump();
  }

  /** How many queued sends a batch could take now (those whose chat is not busy), counted up to extraBatchAt. */
  private readyToGo(): number {
    let ready = 0;
    for (const entry of this.queue) if (!this.busyChats.has(entry.input.chatId) && ++ready >= this.limits.extraBatchAt) break;
    return ready;
  }

  /** Up to maxBatch queued sends, oldest first, leaving (in order) those whose chat is busy. */
  private takeBatch(): typeof this.queue {
    const batch: typeof this.queue = [];
    const rest: typeof this.queue = [];
    for (const entry of this.queue) {
      if (batch.length < this.limits.maxBatch && !this.busyChats.has(entry.input.chatId)) batch.push(entry);
      else rest.push(entry);
    }
    this.queue = rest;
    return batch;
  }
}
