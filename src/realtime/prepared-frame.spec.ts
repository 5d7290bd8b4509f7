import { EventEmitter } from 'node:events';
import * as wsModule from 'ws';
import { frameText, PreparedFrame } from './prepared-frame.js';

/** ws's frame parser: exported by ws (as every ws client uses it), though not in its type definitions. */
const { Receiver } = wsModule as unknown as {
  Receiver: new (options: { isServer: boolean; maxPayload: number }) => EventEmitter & { write(chunk: Buffer): void };
};

/** What ws's own parser (the one every ws client uses) reads out of the bytes. */
function readWithWs(bytes: Buffer): Promise<{ text: string; isBinary: boolean }> {
  return new Promise((resolve, reject) => {
    const receiver = new Receiver({ isServer: false, maxPayload: 0 });
    receiver.on('message', (data: Buffer, isBinary: boolean) => resolve({ text: data.toString('utf8'), isBinary }));
    receiver.on('error', reject);
    receiver.write(bytes);
  });
}

describe('PreparedFrame', () => {
  it.each([0, 1, 125, 126, 127, 65_535, 65_536, 200_000])('frames a text of %i bytes the way ws reads it', async (length) => {
    const text = 'x'.repeat(length);
    const bytes = frameText(text);
    expect(bytes.length).toBe(length + (length < 126 ? 2 : length < 65_536 ? 4 : 10));
    await expect(readWithWs(bytes)).resolves.toEqual({ text, isBinary: false });
  });

  it('counts the length in UTF-8 bytes, not characters', async () => {
    const text = JSON.stringify({ type: 'new_message', text: 'héllo 👋 '.repeat(20) });
    const frame = new PreparedFrame(text);
    expect(frame.bytes.length).toBe(Buffer.byteLength(text) + 4);
    expect(frame.text).toBe(text);
    await expect(readWithWs(frame.bytes)).resolves.toEqual({ text, isBinary: false });
  });
});
