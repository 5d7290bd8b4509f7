import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { FanOut, FanOutMessage } from '../../src/realtime/fan-out.js';

/** A FanOut with what its listener has received so far. */
export interface ObservedFanOut {
  fanOut: FanOut;
  received: FanOutMessage[];
}

export function observe(fanOut: FanOut): ObservedFanOut {
  const received: FanOutMessage[] = [];
  fanOut.listen((message) => received.push(message));
  return { fanOut, received };
}

async function until(probe: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * What every FanOut adapter promises, registered in the caller's describe. `instances` returns
 * one observed FanOut per simulated server instance: one for the in-process adapter, two or
 * more sharing a channel for adapters that span instances.
 */
export function fanOutContract(instances: () => Promise<ObservedFanOut[]>): void {
  let all: ObservedFanOut[];
  const mine = (message: FanOutMessage, tag: string) => message.kind === 'deliver' && message.frame.includes(tag);

  beforeAll(async () => {
    all = await instances();
  });

  describe('the FanOut contract', () => {
    it('hands a message to the publishing instance’s own listener once, before publish resolves', async () => {
      const [first] = all;
      const tag = randomUUID();
      await first.fanOut.publish({ kind: 'deliver', target: { userIds: ['u1'] }, frame: JSON.stringify({ type: 'x', tag }) });
      expect(first.received.filter((m) => mine(m, tag))).toHaveLength(1);
    });

    it('delivers to every instance exactly once, with the frame byte for byte', async () => {
      const [first] = all;
      const tag = randomUUID();
      const frame = JSON.stringify({ type: 'chat_updated', title: 'line\nbreak — “quotes” \\ 🎉', tag });
      const message: FanOutMessage = { kind: 'deliver', target: { userIds: ['u1', 'u2'], exceptConnectionId: 'c1' }, frame };
      await first.fanOut.publish(message);
      await until(() => all.every((instance) => instance.received.some((m) => mine(m, tag))));
      // Give duplicates, if any, the time to show up behind the first copy.
      await first.fanOut.publish({ kind: 'deliver', target: { userIds: ['u3'] }, frame: `{"marker":"${tag}-after"}` });
      await until(() => all.every((instance) => instance.received.some((m) => mine(m, `${tag}-after`))));
      for (const instance of all) expect(instance.received.filter((m) => mine(m, tag) && !mine(m, `${tag}-after`))).toEqual([message]);
    });

    it('carries every ordering field of a delivery: stream (with repair and its users), after, behind with its place, ends, gone, starts, version, whileIn', async () => {
      const tag = randomUUID();
      const messages: FanOutMessage[] = [
        {
          kind: 'deliver',
          target: { userIds: [] },
          frame: `{"m":"${tag}-1"}`,
          stream: { id: 'c', seq: 7, repair: true },
          repairUserIds: ['u1', 'u2'],
        },
        { kind: 'deliver', target: { userIds: ['u1'] }, frame: `{"m":"${tag}-2"}`, after: { id: 'c', seq: 7, about: true } },
        { kind: 'deliver', target: { userIds: ['u1'] }, frame: `{"m":"${tag}-3"}`, behind: 'c', behindSeq: 7, ends: true },
        { kind: 'deliver', target: { userIds: ['u1'] }, frame: `{"m":"${tag}-4"}`, behind: 'c', ends: true, gone: true },
        { kind: 'deliver', target: { userIds: ['u1'] }, frame: `{"m":"${tag}-5"}`, behind: 'c', behindSeq: 9, starts: true },
        { kind: 'deliver', target: { userIds: ['u1'] }, frame: `{"m":"${tag}-6"}`, behind: 'c', behindSeq: 9, version: { of: 'u2', n: 4 } },
        { kind: 'deliver', target: { userIds: ['u1'] }, frame: `{"m":"${tag}-7"}`, behind: 'c', whileIn: true },
      ];
      for (const message of messages) await all[0].fanOut.publish(message);
      await until(() => all.every((instance) => instance.received.filter((m) => mine(m, tag)).length === messages.length));
      for (const instance of all) expect(instance.received.filter((m) => mine(m, tag))).toEqual(messages);
    });

    it('carries close requests with their target, code and reason', async () => {
      const sessionId = randomUUID();
      const message: FanOutMessage = {
        kind: 'close',
        target: { userIds: ['u1'], sessionIds: [sessionId] },
        code: 4401,
        reason: 'SESSION_REVOKED',
      };
      await all[all.length - 1].fanOut.publish(message);
      await until(() =>
        all.every((instance) => instance.received.some((m) => m.kind === 'close' && m.target.sessionIds?.[0] === sessionId)),
      );
      for (const instance of all) {
        expect(instance.received.filter((m) => m.kind === 'close' && m.target.sessionIds?.[0] === sessionId)).toEqual([message]);
      }
    });
  });
}
