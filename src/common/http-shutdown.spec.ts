import http, { type Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { HttpAdapterHost } from '@nestjs/core';
import { HttpShutdown } from './http-shutdown.js';

describe('HttpShutdown', () => {
  let server: Server;
  let shutdown: HttpShutdown;
  const agent = new http.Agent({ keepAlive: true });

  beforeEach(async () => {
    // /slow answers after 1.5 s: a request in flight when the shutdown starts.
    server = http.createServer((req, res) => (req.url === '/slow' ? setTimeout(() => res.end('late'), 1_500) : res.end('ok')));
    // A gateway's: takes the socket over (101) and keeps it, as ws does.
    server.on('upgrade', (_req, socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      socket.on('end', () => socket.end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    shutdown = new HttpShutdown({ httpAdapter: { getHttpServer: () => server } } as unknown as HttpAdapterHost);
    shutdown.onApplicationBootstrap();
  });

  afterEach(async () => {
    agent.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  const connectionHeader = () =>
    new Promise<string | undefined>((resolve, reject) => {
      http
        .get({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', agent }, (res) => {
          res.resume();
          resolve(res.headers.connection);
        })
        .on('error', reject);
    });

  it('once the server stops listening, drops a connection that never carried a request, and gives requests in flight the rest of the grace period', async () => {
    const port = (server.address() as AddressInfo).port;
    const unused = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => unused.once('connect', resolve));
    // Upgraded: the gateway's to close, never taken for a connection that carried no request.
    const upgraded = net.connect(port, '127.0.0.1');
    upgraded.write('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    await new Promise((resolve) => upgraded.once('data', resolve));
    let upgradedClosed = false;
    upgraded.once('close', () => (upgradedClosed = true));
    // A request whose answer takes a while: it finishes, within the grace period.
    const answer = new Promise<string>((resolve, reject) =>
      http.get({ port, host: '127.0.0.1', path: '/slow' }, (res) => res.setEncoding('utf8').on('data', resolve)).on('error', reject),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const since = Date.now();
    shutdown.onModuleDestroy();
    shutdown.beforeApplicationShutdown();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const unusedClosed = new Promise<number>((resolve) => unused.once('close', () => resolve(Date.now() - since)));
    // Opened well over a second ago and never used: gone within a sweep, not at the end of the grace period.
    expect(await unusedClosed).toBeLessThan(1_000);
    expect(await answer).toBe('late');
    expect(upgradedClosed).toBe(false);
    upgraded.destroy();
    await closed;
    expect(Date.now() - since).toBeLessThan(3_000);
  });

  it('answers with Connection: close once the shutdown has started, so no client reuses a socket about to close', async () => {
    expect(await connectionHeader()).toBe('keep-alive');
    shutdown.onModuleDestroy();
    expect(await connectionHeader()).toBe('close');
  });
});
