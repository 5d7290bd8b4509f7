import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpAdapterHost } from '@nestjs/core';
import { HttpShutdown } from './http-shutdown.js';

describe('HttpShutdown', () => {
  let server: Server;
  let shutdown: HttpShutdown;
  const agent = new http.Agent({ keepAlive: true });

  beforeEach(async () => {
    server = http.createServer((_req, res) => res.end('ok'));
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

  it('answers with Connection: close once the shutdown has started, so no client reuses a socket about to close', async () => {
    expect(await connectionHeader()).toBe('keep-alive');
    shutdown.onModuleDestroy();
    expect(await connectionHeader()).toBe('close');
  });
});
