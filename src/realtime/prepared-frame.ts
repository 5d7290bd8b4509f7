/**
 * A text frame serialised and framed once, then written as is to every socket it goes to: the
 * JSON, and the bytes of a complete WebSocket frame around it (RFC 6455 §5.2: FIN set, text
 * opcode, length, no mask, as every frame a server sends). A fan-out to hundreds of sockets
 * otherwise has ws encode the string and build a header once per socket.
 *
 * Written straight to the TCP socket under the WebSocket (see Connection.sendRaw). That keeps the
 * order of frames only because ws writes every frame it is given synchronously, which holds
 * while permessage-deflate is off (RealtimeWsAdapter turns it off; compressed frames would be
 * queued and could be overtaken).
 */
export class PreparedFrame {
  readonly bytes: Buffer;

  constructor(readonly text: string) {
    this.bytes = frameText(text);
  }
}

/** A frame on its way to a socket: serialised for that socket alone, or prepared for many. */
export type WireFrame = string | PreparedFrame;

const FIN_TEXT = 0x81;

export function frameText(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const header = length < 126 ? 2 : length < 0x10000 ? 4 : 10;
  const bytes = Buffer.allocUnsafe(header + length);
  bytes[0] = FIN_TEXT;
  if (header === 2) {
    bytes[1] = length;
  } else if (header === 4) {
    bytes[1] = 126;
    bytes.writeUInt16BE(length, 2);
  } else {
    bytes[1] = 127;
    bytes.writeBigUInt64BE(BigInt(length), 2);
  }
  bytes.write(text, header, 'utf8');
  return bytes;
}
