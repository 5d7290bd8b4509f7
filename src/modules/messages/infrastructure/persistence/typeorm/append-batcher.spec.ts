import { AppendBatcher } from './append-batcher.js';

interface Send {
  chatId: string;
  senderId: string;
  clientId: string | null;
  text: string;
}

/** A batcher over a fake store whose batches finish only when the test says so, on a clock the test moves. */
function setup(limits: { maxInFlight: number; maxBatch: number; extraBatchAt: number; stuckAfterMs?: number }) {
  const batches: Array<{ texts: string[]; finish: () => void; fail: (error: Error) => void }> = [];
  const clock = { now: 0 };
  const batcher = new AppendBatcher<Send, string>(
    { stuckAfterMs: 60_000, ...limits },
    (inputs) =>
      new Promise((resolve, reject) =>
        batches.push({
          texts: inputs.map((i) => i.text),
          finish: () => resolve(inputs.map((i) => ({ status: 'fulfilled', value: `stored ${i.text}` }))),
          fail: reject,
        }),
      ),
    async (first, input) => `${first} (repeated as ${input.text})`,
    () => clock.now,
  );
  const send = (text: string, chatId = `chat-${text}`, clientId: string | null = null) =>
    batcher.submit({ chatId, senderId: 'alice', clientId, text });
  return { batches, send, batcher, clock };
}

/** Lets the batcher's promise callbacks (a finished batch starting the next) run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('AppendBatcher', () => {
  it('stores a lone send at once, and sends that arrive meanwhile together in the next batch', async () => {
    const { batches, send } = setup({ maxInFlight: 2, maxBatch: 100, extraBatchAt: 10 });
    const a = send('a');
    expect(batches.map((b) => b.texts)).toEqual([['a']]);
    const rest = [send('b'), send('c'), send('d')];
    expect(batches).toHaveLength(1);
    batches[0].finish();
    await expect(a).resolves.toBe('stored a');
    await settle();
    expect(batches.map((b) => b.texts)).toEqual([['a'], ['b', 'c', 'd']]);
    batches[1].finish();
    await expect(Promise.all(rest)).resolves.toEqual(['stored b', 'stored c', 'stored d']);
  });

  it('lets the sends a stuck batch does not concern go in a second one, when the next comes or by itself', async () => {
    // The batch in flight waits for a chat's lock (a chat being deleted holds it for seconds).
    const { batches, send, clock } = setup({ maxInFlight: 2, maxBatch: 100, extraBatchAt: 16, stuckAfterMs: 40 });
    void send('stuck', 'deleted-chat');
    clock.now = 10;
    void send('early');
    void send('behind', 'deleted-chat');
    expect(batches.map((b) => b.texts)).toEqual([['stuck']]); // not stuck yet: the rule stands
    clock.now = 50;
    void send('late');
    // Stuck: a second batch takes what waits, but not the stuck batch's own chat, which keeps its order.
    expect(batches.map((b) => b.texts)).toEqual([['stuck'], ['early', 'late']]);

    const again = setup({ maxInFlight: 2, maxBatch: 100, extraBatchAt: 16, stuckAfterMs: 20 });
    void again.send('stuck', 'deleted-chat');
    void again.send('waiting');
    again.clock.now = 25; // and no further send comes: the batcher looks again by itself
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(again.batches.map((b) => b.texts)).toEqual([['stuck'], ['waiting']]);
  });

  it('starts the next batch before it answers the sends of the one that finished', async () => {
    // Answering a send fans its message out; the next batch's statement should not wait for that.
    const { batches, send } = setup({ maxInFlight: 1, maxBatch: 100, extraBatchAt: 10 });
    const a = send('a');
    void send('b');
    const batchesWhenAnswered = a.then(() => batches.map((b) => b.texts));
    batches[0].finish();
    expect(await batchesWhenAnswered).toEqual([['a'], ['b']]);
  });

  it('starts a second batch alongside the first only once extraBatchAt sends wait', () => {
    const { batches, send } = setup({ maxInFlight: 2, maxBatch: 100, extraBatchAt: 3 });
    void send('a');
    void send('b');
    void send('c');
    expect(batches.map((b) => b.texts)).toEqual([['a']]);
    void send('d');
    expect(batches.map((b) => b.texts)).toEqual([['a'], ['b', 'c', 'd']]);
    void send('e');
    void send('f');
    void send('g');
    expect(batches).toHaveLength(2); // maxInFlight
  });

  it('counts only the sends a second batch could take: those of a busy chat wait anyway', () => {
    const { batches, send } = setup({ maxInFlight: 2, maxBatch: 100, extraBatchAt: 3 });
    void send('h1', 'hot');
    for (const text of ['h2', 'h3', 'h4', 'h5']) void send(text, 'hot');
    void send('o1', 'other');
    // Five sends wait, but only one of them (o1) could go now: no second batch for it alone.
    expect(batches.map((b) => b.texts)).toEqual([['h1']]);
    void send('o2', 'other');
    void send('o3', 'another');
    expect(batches.map((b) => b.texts)).toEqual([['h1'], ['o1', 'o2', 'o3']]);
  });

  it('keeps at most maxBatch sends in a batch', async () => {
    const { batches, send } = setup({ maxInFlight: 1, maxBatch: 2, extraBatchAt: 1 });
    for (const text of ['a', 'b', 'c', 'd', 'e']) void send(text);
    batches[0].finish();
    await settle();
    batches[1].finish();
    await settle();
    expect(batches.map((b) => b.texts)).toEqual([['a'], ['b', 'c'], ['d', 'e']]);
  });

  it('never takes a send of a chat that has a batch in flight, and keeps each chat in order', async () => {
    const { batches, send } = setup({ maxInFlight: 2, maxBatch: 100, extraBatchAt: 1 });
    void send('x1', 'x');
    void send('x2', 'x');
    void send('y1', 'y');
    void send('x3', 'x');
    // x1 is in flight: the second batch takes y1 and leaves x2 and x3 queued, in order.
    expect(batches.map((b) => b.texts)).toEqual([['x1'], ['y1']]);
    batches[1].finish();
    await settle();
    expect(batches).toHaveLength(2);
    batches[0].finish();
    await settle();
    expect(batches.map((b) => b.texts)).toEqual([['x1'], ['y1'], ['x2', 'x3']]);
  });

  it('stores a send repeated (same sender and clientId) while the first is queued or in flight once', async () => {
    const { batches, send } = setup({ maxInFlight: 1, maxBatch: 100, extraBatchAt: 1 });
    const first = send('hello', 'chat', 'client-1');
    const again = send('hello again', 'chat', 'client-1');
    batches[0].finish();
    await expect(first).resolves.toBe('stored hello');
    await expect(again).resolves.toBe('stored hello (repeated as hello again)');
    await settle();
    expect(batches.map((b) => b.texts)).toEqual([['hello']]);
  });

  it('stores a send repeated while the first still waits behind another batch once', async () => {
    const { batches, send } = setup({ maxInFlight: 1, maxBatch: 100, extraBatchAt: 1 });
    void send('other', 'chat');
    const first = send('hello', 'chat', 'client-1');
    const again = send('hello again', 'chat', 'client-1');
    batches[0].finish();
    await settle();
    expect(batches.map((b) => b.texts)).toEqual([['other'], ['hello']]);
    batches[1].finish();
    await expect(first).resolves.toBe('stored hello');
    await expect(again).resolves.toBe('stored hello (repeated as hello again)');
  });

  it('finds the first of a repeated send in the second of two batches in flight', async () => {
    const { batches, send } = setup({ maxInFlight: 2, maxBatch: 100, extraBatchAt: 1 });
    void send('x', 'x');
    const first = send('hello', 'y', 'client-1');
    expect(batches.map((b) => b.texts)).toEqual([['x'], ['hello']]);
    const again = send('hello again', 'y', 'client-1');
    batches[0].finish();
    await settle();
    expect(batches).toHaveLength(2);
    batches[1].finish();
    await expect(first).resolves.toBe('stored hello');
    await expect(again).resolves.toBe('stored hello (repeated as hello again)');
    expect(batches).toHaveLength(2);
  });

  it('hands a send repeated after the first was answered to the store, which knows the stored one', async () => {
    const { batches, send } = setup({ maxInFlight: 1, maxBatch: 100, extraBatchAt: 1 });
    const first = send('hello', 'chat', 'client-1');
    batches[0].finish();
    await expect(first).resolves.toBe('stored hello');
    void send('hello again', 'chat', 'client-1');
    expect(batches.map((b) => b.texts)).toEqual([['hello'], ['hello again']]);
  });

  it('does not take the same clientId from another sender for a repeat', async () => {
    const { batches, batcher } = setup({ maxInFlight: 1, maxBatch: 100, extraBatchAt: 1 });
    const alice = batcher.submit({ chatId: 'chat', senderId: 'alice', clientId: 'client-1', text: 'from alice' });
    const bob = batcher.submit({ chatId: 'chat', senderId: 'bob', clientId: 'client-1', text: 'from bob' });
    batches[0].finish();
    await expect(alice).resolves.toBe('stored from alice');
    await settle();
    batches[1].finish();
    await expect(bob).resolves.toBe('stored from bob');
  });

  it('does not take the same clientId to another chat for a repeat: the store answers that send', async () => {
    const { batches, send } = setup({ maxInFlight: 1, maxBatch: 100, extraBatchAt: 1 });
    const here = send('here', 'chat-1', 'client-1');
    const there = send('there', 'chat-2', 'client-1');
    batches[0].finish();
    await expect(here).resolves.toBe('stored here');
    await settle();
    expect(batches.map((b) => b.texts)).toEqual([['here'], ['there']]);
    batches[1].finish();
    await expect(there).resolves.toBe('stored there');
  });

  it("never puts one sender's clientId to two chats in one batch, nor lets that chat's later sends overtake", async () => {
    const { batches, send } = setup({ maxInFlight: 1, maxBatch: 100, extraBatchAt: 1 });
    void send('first', 'chat-0');
    void send('one', 'chat-1', 'client-1');
    void send('two', 'chat-2', 'client-1');
    void send('after two', 'chat-2');
    void send('elsewhere', 'chat-3');
    batches[0].finish();
    await settle();
    expect(batches.map((b) => b.texts)).toEqual([['first'], ['one', 'elsewhere']]);
    batches[1].finish();
    await settle();
    expect(batches.map((b) => b.texts)).toEqual([['first'], ['one', 'elsewhere'], ['two', 'after two']]);
  });

  it('keeps a clientId out of a second batch while the first one holding it is in flight', async () => {
    const { batches, send } = setup({ maxInFlight: 2, maxBatch: 100, extraBatchAt: 1 });
    void send('one', 'chat-1', 'client-1');
    void send('two', 'chat-2', 'client-1');
    void send('other', 'chat-3');
    await settle();
    // A second batch starts at once, without 'two', whose clientId the first holds.
    expect(batches.map((b) => b.texts)).toEqual([['one'], ['other']]);
    batches[0].finish();
    await settle();
    expect(batches.map((b) => b.texts)).toEqual([['one'], ['other'], ['two']]);
  });

  it('fails every send of a batch whose store failed, and goes on with the next', async () => {
    const { batches, send } = setup({ maxInFlight: 1, maxBatch: 100, extraBatchAt: 1 });
    const a = send('a');
    const b = send('b');
    batches[0].fail(new Error('database went away'));
    await expect(a).rejects.toThrow('database went away');
    await settle();
    expect(batches.map((x) => x.texts)).toEqual([['a'], ['b']]);
    batches[1].finish();
    await expect(b).resolves.toBe('stored b');
  });
});
