import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { Connection } from './connection.js';
import { PreparedFrame } from './prepared-frame.js';

/** Just enough of a ws socket: `bufferedAmount` grows with what was sent and is set by the fake transport. */
function fakeSocket() {
  return {
    OPEN: 1,
    readyState: 1,
    bufferedAmount: 0,
    sent: [] as string[],
    closedWith: undefined as [number, string] | undefined,
    send(frame: string) {
      this.sent.push(frame);
      this.bufferedAmount += frame.length;
    },
    close(code: number, reason: string) {
      this.closedWith = [code, reason];
    },
    isPaused: false,
    resume() {
      this.isPaused = false;
    },
    pause() {
      this.isPaused = true;
    },
    terminate() {},
    once() {},
  };
}

const nextTick = () => new Promise((resolve) => process.nextTick(resolve));

describe('Connection', () => {
  const limits = { maxBufferedBytes: 100, maxQueuedFrames: 32 };

  const setup = (leftUnread: number | undefined) => {
    const socket = fakeSocket();
    const writes: number[] = [];
    const transport = {
      corked: 0,
      cork() {
        this.corked++;
      },
      uncork() {
        this.corked--;
        writes.push(socket.sent.length);
        if (leftUnread !== undefined) socket.bufferedAmount = leftUnread;
      },
      /** A prepared frame goes to the TCP socket under ws: keep its bytes next to what ws sent. */
      write(bytes: Buffer) {
        socket.sent.push(`raw:${bytes.toString('latin1')}`);
        socket.bufferedAmount += bytes.length;
      },
    };
    const slow: Connection[] = [];
    const connection = new Connection(
      'c1',
      socket as unknown as WebSocket,
      limits,
      (c) => slow.push(c),
      leftUnread === undefined ? undefined : (transport as unknown as Socket),
    );
    return { socket, transport, writes, slow, connection };
  };

  it('writes the frames of one tick together', async () => {
    const { socket, transport, writes, slow, connection } = setup(0);
    for (let i = 0; i < 5; i++) expect(connection.sendRaw('x'.repeat(20))).toBe(true);
    expect(transport.corked).toBe(1);
    await nextTick();
    expect(transport.corked).toBe(0);
    expect(writes).toEqual([5]); // one write for the five frames
    expect(slow).toEqual([]);
    expect(socket.closedWith).toBeUndefined();
  });

  it("writes early when a tick's frames pass the bound, and keeps a client that reads", async () => {
    const { socket, transport, writes, slow, connection } = setup(0);
    for (let i = 0; i < 5; i++) expect(connection.sendRaw('x'.repeat(50))).toBe(true); // 250 bytes, bound 100
    await nextTick();
    expect(transport.corked).toBe(0);
    expect(writes).toEqual([3, 5]); // the third frame passed the bound: written then, the rest at the end
    expect(slow).toEqual([]);
    expect(socket.closedWith).toBeUndefined();
  });

  it('closes with 1013 when the client leaves too much unread after the write', async () => {
    const { socket, slow, connection } = setup(150);
    const results = Array.from({ length: 5 }, () => connection.sendRaw('x'.repeat(50)));
    expect(results).toEqual([true, true, false, false, false]);
    await nextTick();
    expect(slow).toHaveLength(1);
    expect(socket.closedWith).toEqual([1013, 'SLOW_CONSUMER']);
  });

  it('closes with 1013 after the tick when what is left unread passes the bound', async () => {
    const { socket, slow, connection } = setup(120);
    for (let i = 0; i < 5; i++) expect(connection.sendRaw('x'.repeat(20))).toBe(true);
    expect(socket.closedWith).toBeUndefined();
    await nextTick();
    expect(slow).toHaveLength(1);
    expect(socket.closedWith).toEqual([1013, 'SLOW_CONSUMER']);
  });

  it('waits for the send buffer to drain, and closes with 1013 a client that does not read it in time', async () => {
    const { socket, slow, connection } = setup(undefined);
    socket.bufferedAmount = 500;
    const reading = connection.drained(100, 1_000);
    setTimeout(() => (socket.bufferedAmount = 100), 20);
    expect(await reading).toBe(true);
    expect(socket.closedWith).toBeUndefined();

    socket.bufferedAmount = 500;
    expect(await connection.drained(100, 30)).toBe(false);
    expect(slow).toEqual([connection]); // reported like any slow consumer
    expect(socket.closedWith).toEqual([1013, 'SLOW_CONSUMER']);
    expect(connection.isOpen).toBe(false);
    expect(await connection.drained(100, 30)).toBe(false);
  });

  it('closes with 1013 when it keeps more live frames back behind a catch-up than it may', () => {
    const socket = fakeSocket();
    const slow: Connection[] = [];
    const connection = new Connection('c2', socket as unknown as WebSocket, { ...limits, maxKeptBytes: 50 }, (c) => slow.push(c));
    const catchUp = connection.streams.begin('chat'); // a sync the client reads slowly
    connection.sendInStream({ id: 'chat', seq: 1 }, 'x'.repeat(20));
    connection.sendInStream({ id: 'chat', seq: 2 }, new PreparedFrame('y'.repeat(20)));
    expect(connection.streams.keptBytes).toBe(20 + 22); // the prepared frame with its 2-byte header
    expect(socket.closedWith).toBeUndefined();
    connection.sendInStream({ id: 'chat', seq: 3 }, 'z'.repeat(20));
    expect(slow).toEqual([connection]);
    expect(socket.closedWith).toEqual([1013, 'SLOW_CONSUMER']);
    catchUp.end();
  });

  it('lets frames kept back behind a catch-up out together without counting them as a slow client, and bounds what comes after', async () => {
    const socket = fakeSocket();
    // A transport that leaves unread whatever the test says (bufferedAmount as set).
    const transport = { cork() {}, uncork() {}, write() {} };
    const slow: Connection[] = [];
    const connection = new Connection(
      'c3',
      socket as unknown as WebSocket,
      { ...limits, maxKeptBytes: 1_000 },
      (c) => slow.push(c),
      transport as unknown as Socket,
    );
    connection.holdStreams(60_000); // until the first sync ends, as after every connect
    for (let seq = 1; seq <= 10; seq++) connection.sendInStream({ id: 'chat', seq }, 'x'.repeat(50)); // 500 bytes, bound 100
    expect(socket.sent).toHaveLength(0);
    connection.releaseStreams();
    await nextTick();
    expect(socket.sent).toHaveLength(10);
    expect(socket.bufferedAmount).toBe(500);
    expect(slow).toEqual([]);
    expect(socket.closedWith).toBeUndefined();

    // The client reads part of it; new frames have the usual room on top of what was let out.
    socket.bufferedAmount = 300;
    expect(connection.sendRaw('y'.repeat(90))).toBe(true);
    await nextTick();
    expect(socket.closedWith).toBeUndefined();
    // Once it has read down to the bound, the bound is the usual one again.
    socket.bufferedAmount = 80;
    expect(connection.sendRaw('z'.repeat(10))).toBe(true);
    await nextTick();
    expect(connection.sendRaw('z'.repeat(20))).toBe(false);
    expect(slow).toEqual([connection]);
    expect(socket.closedWith).toEqual([1013, 'SLOW_CONSUMER']);
  });

  it('forgives only released frames it wrote: held copies of what the catch-up already sent widen nothing', async () => {
    const socket = fakeSocket();
    const transport = { cork() {}, uncork() {}, write() {} };
    const slow: Connection[] = [];
    const connection = new Connection(
      'c4',
      socket as unknown as WebSocket,
      { ...limits, maxKeptBytes: 1_000 },
      (c) => slow.push(c),
      transport as unknown as Socket,
    );
    const catchUp = connection.streams.begin('chat'); // a sync of this chat
    for (let seq = 1; seq <= 10; seq++) connection.sendInStream({ id: 'chat', seq }, 'x'.repeat(50)); // live copies, held
    for (let seq = 1; seq <= 10; seq++) catchUp.sent(seq); // the history page wrote them all
    socket.bufferedAmount = 90; // the client has not read the page yet
    catchUp.end(); // nothing to write: all ten are repeats
    expect(socket.sent).toHaveLength(0);
    await nextTick();
    // A client that then stops reading: 590 bytes waiting, against a bound of 100.
    connection.sendRaw('y'.repeat(500));
    await nextTick();
    expect(slow).toEqual([connection]);
    expect(socket.closedWith).toEqual([1013, 'SLOW_CONSUMER']);
  });

  it('keeps frames that come before ready until ready has gone out, then writes them in order', () => {
    const { socket, connection } = setup(undefined);
    connection.deferUntilReady();
    expect(connection.sendRaw('{"type":"typing"}')).toBe(true);
    expect(connection.sendRaw(new PreparedFrame('{"type":"presence"}'))).toBe(true);
    expect(socket.sent).toEqual([]);
    connection.sendReady({ type: 'ready', userId: 'u1', sessionId: 's1' }, 'a1');
    expect(socket.sent).toEqual(['{"type":"ready","userId":"u1","sessionId":"s1","id":"a1"}', '{"type":"typing"}', '{"type":"presence"}']);
    connection.sendRaw('{"type":"read"}');
    expect(socket.sent).toHaveLength(4);
  });

  it('writes a prepared frame as its bytes, in order with the frames ws writes', async () => {
    const { socket, writes, connection } = setup(0);
    const shared = new PreparedFrame('{"type":"new_message"}');
    connection.sendRaw('{"type":"message_ack"}');
    connection.sendRaw(shared);
    connection.sendRaw('{"type":"pong"}');
    await nextTick();
    expect(socket.sent).toEqual(['{"type":"message_ack"}', `raw:${shared.bytes.toString('latin1')}`, '{"type":"pong"}']);
    expect(writes).toEqual([3]);
  });

  it('without a transport, sends a prepared frame through ws as text', () => {
    const { socket, connection } = setup(undefined);
    connection.sendRaw(new PreparedFrame('{"type":"new_message"}'));
    expect(socket.sent).toEqual(['{"type":"new_message"}']);
  });

  it('without a transport to cork, judges every send at once', () => {
    const { socket, connection } = setup(undefined);
    expect(connection.sendRaw('x'.repeat(60))).toBe(true);
    expect(connection.sendRaw('x'.repeat(60))).toBe(false);
    expect(socket.closedWith).toEqual([1013, 'SLOW_CONSUMER']);
  });

  it('a task that fails is reported to whoever awaits it, and the next still runs', async () => {
    const { connection } = setup(0);
    const failed = connection.enqueue(() => Promise.reject(new Error('boom')));
    const ran: string[] = [];
    void connection.enqueue(async () => void ran.push('next'));
    await expect(failed).rejects.toThrow('boom');
    await connection.idle();
    expect(ran).toEqual(['next']);
  });

  it('stops reading while the frames waiting pass a count or a size, and reads again once half are done', async () => {
    const socket = fakeSocket();
    const connection = new Connection(
      'c2',
      socket as unknown as WebSocket,
      { maxBufferedBytes: 100, maxQueuedFrames: 4, maxQueuedFrameBytes: 1000 },
      () => undefined,
    );
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    // Two big frames: under the count, over the size.
    void connection.enqueue(() => blocked, 600);
    expect(socket.isPaused).toBe(false);
    void connection.enqueue(async () => undefined, 600);
    expect(socket.isPaused).toBe(true);
    release();
    await connection.idle();
    expect(socket.isPaused).toBe(false);

    // Many small frames: under the size, over the count.
    let releaseSmall!: () => void;
    const blockedSmall = new Promise<void>((resolve) => (releaseSmall = resolve));
    void connection.enqueue(() => blockedSmall, 10);
    for (let i = 0; i < 4; i++) void connection.enqueue(async () => undefined, 10);
    expect(socket.isPaused).toBe(true);
    releaseSmall();
    await connection.idle();
    expect(socket.isPaused).toBe(false);
  });
});
