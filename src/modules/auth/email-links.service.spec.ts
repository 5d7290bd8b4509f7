import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { RateLimitedError } from '../../common/errors/domain-error.js';
import { EmailLinksService } from './email-links.service.js';
import type { PasswordResetRequestedEvent } from './events/password-reset-requested.event.js';

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const ada = { id: 'user-ada', email: 'ada@example.com', name: 'Ada' };

/** EmailLinksService over fakes whose account lookups wait until the test answers them. */
function setUp() {
  const lookups: Array<{ email: string } & Deferred<typeof ada | undefined>> = [];
  const steps: string[] = [];
  const published: PasswordResetRequestedEvent[] = [];
  const limiter = { consumePasswordReset: jest.fn(async (_email: string) => undefined) };
  const service = new EmailLinksService(
    { transaction: async (work: (tx: unknown) => Promise<void>) => work({}) } as never,
    {
      findByEmail: (email: string) => {
        const lookup = Object.assign(deferred<typeof ada | undefined>(), { email });
        lookups.push(lookup);
        steps.push(`lookup ${email}`);
        return lookup.promise;
      },
    } as never,
    {} as never,
    {
      lockLinksOf: async (userId: string) => void steps.push(`lock ${userId}`),
      invalidateUnused: async (userId: string) => void steps.push(`invalidate ${userId}`),
      create: async (userId: string) => void steps.push(`create ${userId}`),
    } as never,
    {} as never,
    limiter as never,
    { publish: (event: PasswordResetRequestedEvent) => void published.push(event) } as never,
    {
      queue: async (request: { userId: string }) => void steps.push(`queue mail ${request.userId}`),
      wake: () => void steps.push('wake'),
    } as never,
  );
  return { service, lookups, steps, published, limiter };
}

describe('EmailLinksService.forgotPassword', () => {
  it('answers once the rate limit has counted the request, before the account is even looked up', async () => {
    const { service, lookups, steps, published } = setUp();
    await service.forgotPassword(ada.email);
    expect(lookups.map((l) => l.email)).toEqual([ada.email]);
    expect(published).toEqual([]);

    const settled = service.resetRequestsSettled();
    lookups[0].resolve(ada);
    await settled;
    expect(steps).toEqual([
      `lookup ${ada.email}`,
      `lock ${ada.id}`,
      `invalidate ${ada.id}`,
      `create ${ada.id}`,
      `queue mail ${ada.id}`,
      'wake',
    ]);
    expect(published.map((e) => [e.userId, e.email, e.resetToken.length > 20])).toEqual([[ada.id, ada.email, true]]);
  });

  it('answers an unknown email the same way and makes nothing for it', async () => {
    const { service, lookups, steps, published } = setUp();
    await expect(service.forgotPassword('nobody@example.com')).resolves.toBeUndefined();
    lookups[0].resolve(undefined);
    await service.resetRequestsSettled();
    expect(steps).toEqual(['lookup nobody@example.com']);
    expect(published).toEqual([]);
  });

  it('refuses over the rate limit before starting any work', async () => {
    const { service, lookups, limiter } = setUp();
    limiter.consumePasswordReset.mockRejectedValueOnce(
      new RateLimitedError(60, 'RATE_LIMITED', 'Too many password reset requests for this account; try again later.'),
    );
    await expect(service.forgotPassword(ada.email)).rejects.toBeInstanceOf(RateLimitedError);
    expect(lookups).toEqual([]);
  });

  it("works through one email's requests in the order they were answered, so the newest link is made last", async () => {
    const { service, lookups, published } = setUp();
    await service.forgotPassword(ada.email);
    await service.forgotPassword(ada.email);
    await service.forgotPassword('grace@example.com');
    // Ada's second request waits for her first; Grace's does not.
    expect(lookups.map((l) => l.email)).toEqual([ada.email, 'grace@example.com']);
    lookups[1].resolve(undefined);
    lookups[0].resolve(ada);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(lookups.map((l) => l.email)).toEqual([ada.email, 'grace@example.com', ada.email]);
    lookups[2].resolve(ada);
    await service.resetRequestsSettled();
    expect(published).toHaveLength(2);
  });

  it('while shutting down, answers only once the link is made, and shutdown waits for requests answered meanwhile', async () => {
    const { service, lookups, published } = setUp();
    await service.forgotPassword(ada.email);
    let shutDown = false;
    const shutdown = service.beforeApplicationShutdown().then(() => (shutDown = true));
    let answered = false;
    const late = service.forgotPassword('grace@example.com').then(() => (answered = true));
    lookups[0].resolve(ada);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect([answered, shutDown]).toEqual([false, false]);
    lookups[1].resolve({ id: 'user-grace', email: 'grace@example.com', name: 'Grace' });
    await Promise.all([late, shutdown]);
    expect(published.map((e) => e.email)).toEqual([ada.email, 'grace@example.com']);
  });

  it('logs a request whose link could not be made, and keeps working on the next', async () => {
    const { service, lookups, published } = setUp();
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    try {
      await service.forgotPassword(ada.email);
      await service.forgotPassword(ada.email);
      lookups[0].reject(new Error('connection reset'));
      await new Promise((resolve) => setTimeout(resolve, 0));
      lookups[1].resolve(ada);
      await service.beforeApplicationShutdown();
      expect(logged).toHaveBeenCalledTimes(1);
      expect(String(logged.mock.calls[0][0])).toContain('connection reset');
      expect(published).toHaveLength(1);
    } finally {
      logged.mockRestore();
    }
  });
});
