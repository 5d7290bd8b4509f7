import { type AddressInfo, connect, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  /** The loopback port it listens on. */
  port: number;
  /** Goes away as a server that went down would: stops listening and cuts every connection. */
  cut(): Promise<void>;
  /** From now on forwards nothing either way, keeping every connection open: a server that stalls. */
  stall(): void;
}

/** A TCP proxy on 127.0.0.1 to a real service here (PostgreSQL, Redis), which a test can cut or stall. */
export async function tcpProxy(targetPort: number): Promise<TcpProxy> {
  let stalled = false;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ]) {
      sockets.add(from);
      from.on('error', () => undefined);
      from.on('data', (chunk) => stalled || to.write(chunk));
      from.on('close', () => to.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cut: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
    stall: () => {
      stalled = true;
    },
  };
}
