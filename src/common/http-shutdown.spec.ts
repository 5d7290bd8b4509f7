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

  const port = () => (server.address() as AddressInfo).port;
  const slowAnswer = () =>
    new Promise<string>((resolve, reject) =>
      http
        .get({ port: port(), host: '127.0.0.1', path: '/slow' }, (res) => res.setEncoding('utf8').on('data', resolve))
        .on('error', reject),
    );
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('once the server stops listening, drops a connection that never carried a request, and lets requests in flight finish', async () => {
    const unused = net.connect(port(), '127.0.0.1');
    await new Promise((resolve) => unused.once('connect', resolve));
    // Upgraded: the gateway's to close, never taken for a connection that carried no request.
    const upgraded = net.connect(port(), '127.0.0.1');
    upgraded.write('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    await new Promise((resolve) => upgraded.once('data', resolve));
    let upgradedClosed = false;
    upgraded.once('close', () => (upgradedClosed = true));
    await sleep(1_100); // the unused connection is over a second old when the shutdown starts
    const answer = slowAnswer(); // in flight, answered 1.5 s from now
    await sleep(100);
    const since = Date.now();
    shutdown.onModuleDestroy();
    shutdown.beforeApplicationShutdown();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const unusedClosed = new Promise<number>((resolve) => unused.once('close', () => resolve(Date.now() - since)));
    // Gone within a sweep or two, not at the end of the grace period (5 s).
    expect(await unusedClosed).toBeLessThan(1_000);
    expect(await answer).toBe('late');
    expect(upgradedClosed).toBe(false);
    upgraded.destroy();
    await closed;
    expect(Date.now() - since).toBeLessThan(3_000);
  });

  it('gives a request that came during a long drain time after the server stops listening, though the grace from the signal is over', async () => {
    shutdown.onModuleDestroy();
    shutdown.beforeApplicationShutdown();
    await sleep(4_900); // the WebSocket drain takes its time; the server still takes requests
    const answer = slowAnswer(); // answered 1.5 s from now: past the 5 s from the signal
    await sleep(100);
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    expect(await answer).toBe('late');
    await closed;
  });

  it('answers with Connection: close once the shutdown has started, so no client reuses a socket about to close', async () => {
    expect(await connectionHeader()).toBe('keep-alive');
    shutdown.onModuleDestroy();
    expect(await connectionHeader()).toBe('close');
  });
});
