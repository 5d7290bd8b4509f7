import { maxHeaderSize, STATUS_CODES, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { reasonPhrase } from '../errors/error-body.js';

/**
 * Node answers a request it cannot read (headers past its limit, broken framing, one that took
 * too long to arrive) by itself, before Express sees it, with a bare status line. This answers in
 * the contract's error shape instead, then closes the connection as Node would: after such a
 * request there is no telling where the next one would start.
 */
export function answerClientErrorsInShape(server: Server): void {
  server.on('clientError', (error: Error & { code?: string }, socket: Socket) => {
    const answering = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (error.code === 'ECONNRESET' || !socket.writable || answering?.headersSent) {
      socket.destroy();
      return;
    }
    answerOnSocket(socket, ...classify(error.code));
  });
}

/**
 * Writes an HTTP answer in the contract's error shape straight to a socket Node's HTTP server
 * has left to us (a client error, an upgrade), then closes it.
 */
export function answerOnSocket(socket: Duplex, statusCode: number, code: string, message: string): void {
  const body = JSON.stringify({ statusCode, error: reasonPhrase(statusCode), code, message });
  // Destroyed once written: the server allows half-open sockets, so end() alone would leave
  // this one open for as long as the client keeps its side.
  socket.end(
    `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}

function classify(code: string | undefined): [number, string, string] {
  if (code === 'HPE_HEADER_OVERFLOW')
    return [
      431,
      'HEADERS_TOO_LARGE',
      `The request line and headers are larger than ${maxHeaderSize / 1024} KiB: a very long URL, cookie or Authorization header.`,
    ];
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return [413, 'PAYLOAD_TOO_LARGE', 'The chunk extensions of the body are too large.'];
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return [408, 'REQUEST_TIMEOUT', 'The request took too long to arrive.'];
  return [400, 'MALFORMED_REQUEST', 'The request is not well-formed HTTP/1.1.'];
}
