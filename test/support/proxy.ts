import { type AddressInfo, connect, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  /** The loopback port it listens on. */
  port: number;
  /** Goes away as a server that went down would: stops listening and cuts every connection. */
  cut(): Promise<void>;
  /** From now on forwards nothing either way, keeping every connection open: a server that stalls. */
  stall(): void;
  /** Every byte its clients have sent so far, forwarded or not (what an app asked of a stalled server, too). */
  sent(): Buffer;
}

/** A TCP proxy on 127.0.0.1 to a real service (PostgreSQL, Redis), which a test can cut or stall. */
export async function tcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  let stalled = false;
  const sockets = new Set<Socket>();
  const fromClients: Buffer[] = [];
  const server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ]) {
      sockets.add(from);
      from.on('error', () => undefined);
      from.on('data', (chunk: Buffer) => {
        if (from === client) fromClients.push(chunk);
        if (!stalled) to.write(chunk);
      });
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
    sent: () => Buffer.concat(fromClients),
  };
}

export interface FrontDoor {
  /** The loopback port it listens on, for as long as it is open. */
  port: number;
  /** From now on, connections go through to this loopback port, or are cut at once (undefined); those open now are cut. */
  to(port: number | undefined): void;
  close(): Promise<void>;
}

/**
 * A loopback address that stays bound while what stands behind it comes and goes (a server that
 * restarts): a port given back and bound again later could be taken meanwhile by some other
 * connection's local end.
 */
export async function frontDoor(): Promise<FrontDoor> {
  let target: number | undefined;
  const open = new Set<Socket>();
  const track = (socket: Socket) => {
    open.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => open.delete(socket));
  };
  const server = createServer((client) => {
    track(client);
    if (target === undefined) return void client.destroy();
    const upstream = connect(target, '127.0.0.1');
    track(upstream);
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const cutAll = () => {
    for (const socket of open) socket.destroy();
  };
  return {
    port: (server.address() as AddressInfo).port,
    to: (port) => {
      target = port;
      cutAll();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        cutAll();
      }),
  };
}
