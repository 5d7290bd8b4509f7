import { createServer } from 'node:net';
import { SetupError } from '../errors/setup-error.js';

/** A failure to listen on PORT as the sentence that says what to do, or the error as it was. */
export function explainListenError(error: unknown, port: number): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE')
    return new SetupError(`PORT ${port} is already in use by another program; stop that program or set PORT to a free port.`);
  if (code === 'EACCES') return new SetupError(`PORT ${port} needs privileges this process does not have; set PORT to 1024 or above.`);
  return error;
}

/**
 * Listens on the port for a moment, as the server will (every address), and lets it go: a port
 * another program holds is told before the start opens anything. The server's own listen still
 * reports one taken in between.
 */
export async function checkPortFree(port: number): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(port, () => resolve());
    });
  } catch (error) {
    throw explainListenError(error, port);
  }
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}
