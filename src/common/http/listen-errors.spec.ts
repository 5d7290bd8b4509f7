import { createServer, type AddressInfo, type Server } from 'node:net';
import { SetupError } from '../errors/setup-error.js';
import { checkPortFree } from './listen-errors.js';

describe('checkPortFree', () => {
  let holder: Server | undefined;

  afterEach(async () => {
    await new Promise<void>((resolve) => (holder ? holder.close(() => resolve()) : resolve()));
    holder = undefined;
  });

  it('refuses a port another program listens on, saying what to do', async () => {
    holder = createServer();
    await new Promise<void>((resolve) => holder!.listen(0, () => resolve()));
    const { port } = holder.address() as AddressInfo;
    const check = checkPortFree(port);
    await expect(check).rejects.toBeInstanceOf(SetupError);
    await expect(check).rejects.toThrow(`PORT ${port} is already in use by another program; stop that program or set PORT to a free port.`);
  });

  it('lets a free port go again, so the server can listen on it', async () => {
    holder = createServer();
    await new Promise<void>((resolve) => holder!.listen(0, () => resolve()));
    const { port } = holder.address() as AddressInfo;
    await new Promise<void>((resolve) => holder!.close(() => resolve()));
    holder = undefined;
    await checkPortFree(port);
    holder = createServer();
    await new Promise<void>((resolve, reject) => {
      holder!.once('error', reject);
      holder!.listen(port, () => resolve());
    });
  });
});
