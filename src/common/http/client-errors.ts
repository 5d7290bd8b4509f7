import { STATUS_CODES, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { reasonPhrase } from '../errors/error-body.js';

/**
 * Node answers a request it cannot read (headers past its 16 KiB limit, broken framing, one that
 * took too long to arrive) by itself, before Express sees it, with a bare status line. This answers
 * in the contract's error shape instead, then closes the connection: after such a request there is
 * no telling where the next one would start.
 */
export function answerClientErrorsInShape(server: Server): void {
  server.on('clientError', (error: Error & { code?: string }, socket: Socket) => {
    const answering = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (error.code === 'ECONNRESET' || !socket.writable || answering?.headersSent) {
      socket.destroy();
      return;
    }
    const [statusCode, code, message] = describe(error.code);
    const body = JSON.stringify({ statusCode, error: reasonPhrase(statusCode), code, message });
    socket.end(
      `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}

function describe(code: string | undefined): [number, string, string] {
  if (code === 'HPE_HEADER_OVERFLOW')
    return [
      431,
      'HEADERS_TOO_LARGE',
      'The request line and headers are larger than 16 KiB: a very long URL, cookie or Authorization header.',
    ];
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return [408, 'REQUEST_TIMEOUT', 'The request took too long to arrive.'];
  return [400, 'MALFORMED_REQUEST', 'The request is not well-formed HTTP/1.1.'];
}
