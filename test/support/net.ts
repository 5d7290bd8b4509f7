import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';

/** A loopback port nothing listens on: bound by the OS, then released. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A raw connection to a loopback server, with the server's own end of it (what the server
 * closes or keeps): unlike getConnections, which counts other requests' keep-alive sockets too.
 */
export async function openConnection(
  server: Server,
  options: { allowHalfOpen?: boolean } = {},
): Promise<{ client: Socket; accepted: Socket }> {
  const { port } = server.address() as AddressInfo;
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const client = connect({ port, host: '127.0.0.1', allowHalfOpen: options.allowHalfOpen });
  await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject));
  const serverSide = await accepted;
  if (serverSide.remotePort !== client.localPort) {
    client.destroy();
    throw new Error('Another connection reached the server at the same moment; the test cannot tell which is its own.');
  }
  return { client, accepted: serverSide };
}

/** Resolves once the socket has closed (at once if it has). */
export function closedSocket(socket: Socket): Promise<void> {
  return socket.closed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()));
}
