/**
 * Group commit for sends: while `maxInFlight` batches are being stored, new sends queue up, and
 * the next batch takes all of them in one statement and one commit. Under low load every send
 * goes alone and at once; under high load the per-commit cost is shared. Sends with the same
 * (sender, clientId) that are queued or in flight together share one attempt.
 */
export class AppendBatcher<In extends { senderId: string; clientId: string | null }, Out> {
  private queue: Array<{ input: In; resolve: (out: Out) => void; reject: (error: unknown) => void }> = [];
  private inFlight = 0;
  private readonly sameSend = new Map<string, Promise<Out>>();

  constructor(
    private readonly maxInFlight: number,
    private readonly maxBatch: number,
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
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight++;
      this.store(batch.map((b) => b.input))
        .then(
          (results) => results.forEach((r, i) => (r.status === 'fulfilled' ? batch[i].resolve(r.value) : batch[i].reject(r.reason))),
          (error: unknown) => batch.forEach((b) => b.reject(error)),
        )
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }
}
