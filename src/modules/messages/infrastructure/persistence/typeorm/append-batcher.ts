/**
 * Group commit for sends: while batches are being stored, new sends queue up, and the next batch
 * takes all of them in one statement and one commit. Under low load every send goes alone and at
 * once; under high load the per-commit cost is shared. Sends with the same (sender, clientId,
 * chat) that are queued or in flight together share one attempt.
 *
 * One batch in flight is the rule; a second (up to `maxInFlight`) starts only while at least
 * `extraBatchAt` sends wait that it could take (sends to a chat in flight wait for that batch
 * anyway). A batch costs the database about the same for one send as for a dozen, so at moderate
 * load a second statement in flight would mostly split the same sends over twice the statements;
 * under heavy load the queue passes the mark and both run. Nor does a stuck batch hold the rest:
 * once the oldest in flight has run `stuckAfterMs` (it waits for a chat's row lock, which a long
 * change to the chat can hold), the sends it does not concern go in another.
 *
 * Order: sends to one chat are stored in the order they were submitted. A batch never takes a
 * send whose chat is in a batch still in flight (two concurrent batches would number that chat
 * in whichever order they got its lock), and `store` numbers each chat's sends of a batch in
 * input order.
 *
 * Memory: the indexes (sends by clientId, chats in flight) belong to the queue and to each batch
 * and are dropped with them, never kept in maps for the batcher's lifetime: on Node 20 a
 * long-lived Map or Set with an entry added and removed per send keeps its table in V8's old
 * generation, which keeps the sends it held alive through young-generation collections and makes
 * full collections frequent (docs/bench.md).
 */
export class AppendBatcher<In extends { chatId: string; senderId: string; clientId: string | null }, Out> {
  private queue: Array<Waiting<In, Out>> = [];
  /** The queued sends that have a clientId, by `sameSendKey`. Replaced with the queue. */
  private queuedByKey = new Map<string, Promise<Out>>();
  private readonly inFlight: Array<Batch<In, Out>> = [];
  /** Set while sends wait behind a batch in flight: pumps again when that batch counts as stuck. */
  private stuckCheck: NodeJS.Timeout | undefined;

  constructor(
    private readonly limits: { maxInFlight: number; maxBatch: number; extraBatchAt: number; stuckAfterMs: number },
    /** Stores a batch; returns one settled result per input, in order. */
    private readonly store: (inputs: In[]) => Promise<Array<PromiseSettledResult<Out>>>,
    /** The answer for a send that repeats one already queued or in flight. */
    private readonly repeat: (first: Out, input: In) => Promise<Out>,
    private readonly now: () => number = () => performance.now(),
  ) {}

  submit(input: In): Promise<Out> {
    const key = input.clientId ? sameSendKey(input) : undefined;
    const first = key === undefined ? undefined : this.sameSend(key);
    if (first) return first.then((out) => this.repeat(out, input));
    let resolve!: (out: Out) => void;
    let reject!: (error: unknown) => void;
    const result = new Promise<Out>((res, rej) => ((resolve = res), (reject = rej)));
    this.queue.push({ input, key, result, resolve, reject });
    if (key !== undefined) this.queuedByKey.set(key, result);
    this.pump();
    return result;
  }

  private sameSend(key: string): Promise<Out> | undefined {
    const queued = this.queuedByKey.get(key);
    if (queued) return queued;
    for (const batch of this.inFlight) {
      const sent = batch.byKey.get(key);
      if (sent) return sent;
    }
    return undefined;
  }

  private pump(): void {
    while (this.inFlight.length < this.limits.maxInFlight && this.queue.length > 0) {
      if (this.inFlight.length > 0 && this.readyToGo() < this.limits.extraBatchAt && !this.stuck()) {
        this.checkWhenStuck();
        return; // they wait for the batch in flight
      }
      const batch = this.takeBatch();
      if (batch.sends.length === 0) return; // every queued send waits for its chat's batch in flight
      this.inFlight.push(batch);
      this.store(batch.sends.map((s) => s.input)).then(
        (results) => {
          this.finished(batch);
          results.forEach((r, i) => (r.status === 'fulfilled' ? batch.sends[i].resolve(r.value) : batch.sends[i].reject(r.reason)));
        },
        (error: unknown) => {
          this.finished(batch);
          for (const send of batch.sends) send.reject(error);
        },
      );
    }
  }

  /**
   * A batch is stored: the next one starts before this one's sends are answered. Answering them
   * fans their messages out, and those socket writes take a while; meanwhile the database is
   * already storing the next batch, whose statement would otherwise wait behind them.
   */
  private finished(batch: Batch<In, Out>): void {
    this.inFlight.splice(this.inFlight.indexOf(batch), 1);
    this.pump();
  }

  /** Whether the oldest batch in flight has run long enough to count as stuck. */
  private stuck(): boolean {
    return this.inFlight.length > 0 && this.now() - this.inFlight[0].startedAt >= this.limits.stuckAfterMs;
  }

  private checkWhenStuck(): void {
    if (this.stuckCheck) return;
    const wait = Math.max(0, this.inFlight[0].startedAt + this.limits.stuckAfterMs - this.now());
    this.stuckCheck = setTimeout(() => {
      this.stuckCheck = undefined;
      this.pump();
    }, wait);
    this.stuckCheck.unref();
  }

  private isBusy(chatId: string): boolean {
    for (const batch of this.inFlight) if (batch.chats.has(chatId)) return true;
    return false;
  }

  /** How many queued sends a batch could take now (those whose chat is not busy), counted up to extraBatchAt. */
  private readyToGo(): number {
    let ready = 0;
    for (const waiting of this.queue) if (!this.isBusy(waiting.input.chatId) && ++ready >= this.limits.extraBatchAt) break;
    return ready;
  }

  /** Whether a send of this sender with this clientId is in the batch being made, or in one in flight. */
  private clientIdTaken(clientKey: string, batch: Batch<In, Out>): boolean {
    if (batch.clientIds.has(clientKey)) return true;
    for (const other of this.inFlight) if (other.clientIds.has(clientKey)) return true;
    return false;
  }

  /**
   * Up to maxBatch queued sends, oldest first, leaving (in order) those whose chat is busy, and
   * one that shares its sender and clientId with a send taken already, here or in a batch in
   * flight (to another chat: the statement would break the unique key, or wait on the other's,
   * and the whole batch go one by one), together with the rest of its chat's, which may not
   * overtake it.
   */
  private takeBatch(): Batch<In, Out> {
    const batch: Batch<In, Out> = { sends: [], chats: new Set(), byKey: new Map(), clientIds: new Set(), startedAt: this.now() };
    const rest: Array<Waiting<In, Out>> = [];
    const restByKey = new Map<string, Promise<Out>>();
    const held = new Set<string>();
    for (const waiting of this.queue) {
      const { chatId, senderId, clientId } = waiting.input;
      const clientKey = clientId === null ? undefined : `${senderId}:${clientId}`;
      if (clientKey !== undefined && this.clientIdTaken(clientKey, batch)) held.add(chatId);
      if (batch.sends.length < this.limits.maxBatch && !held.has(chatId) && !this.isBusy(chatId)) {
        batch.sends.push(waiting);
        batch.chats.add(chatId);
        if (clientKey !== undefined) batch.clientIds.add(clientKey);
        if (waiting.key !== undefined) batch.byKey.set(waiting.key, waiting.result);
      } else {
        rest.push(waiting);
        if (waiting.key !== undefined) restByKey.set(waiting.key, waiting.result);
      }
    }
    this.queue = rest;
    this.queuedByKey = restByKey;
    return batch;
  }
}

interface Waiting<In, Out> {
  input: In;
  /** `sameSendKey`, for sends with a clientId. */
  key: string | undefined;
  result: Promise<Out>;
  resolve: (out: Out) => void;
  reject: (error: unknown) => void;
}

/**
 * A batch: its sends, their chats (busy while it is in flight), its sends by `sameSendKey`, and
 * their senders' clientIds (`sender:clientId`), which no other batch may take meanwhile.
 */
interface Batch<In, Out> {
  sends: Array<Waiting<In, Out>>;
  chats: Set<string>;
  byKey: Map<string, Promise<Out>>;
  clientIds: Set<string>;
  /** When it was taken (the batcher's clock): a batch in flight this long is stuck. */
  startedAt: number;
}

/**
 * One send: the same sender, clientId and chat. The same clientId to another chat is not a
 * repeat: the store answers it (CLIENT_ID_REUSED, or CHAT_NOT_FOUND to a chat its sender is not
 * in), rather than it taking the first one's answer.
 */
function sameSendKey(input: { chatId: string; senderId: string; clientId: string | null }): string {
  return `${input.senderId}:${input.clientId}:${input.chatId}`;
}
