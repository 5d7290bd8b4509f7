import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { isHttpOnlyGuard } from '../../common/auth/http-only-guard.js';
import { JwtAuthGuard } from './jwt-auth.guard.js';
import type { JwtStrategy } from './jwt.strategy.js';

/** A context of the given kind that reports any look beyond its type. */
function contextOf(type: string): ExecutionContext {
  const looked = () => {
    throw new Error('looked further');
  };
  return { getType: () => type, getHandler: looked, getClass: looked, switchToHttp: looked } as unknown as ExecutionContext;
}

describe('JwtAuthGuard', () => {
  // DirectHandlers skips a global guard marked @HttpOnlyGuard() on every frame; that is only
  // right while the guard lets everything that is not HTTP through without looking further.
  it('is marked HTTP-only, and lets WebSocket and other non-HTTP calls through untouched', () => {
    expect(isHttpOnlyGuard(JwtAuthGuard)).toBe(true);
    const guard = new JwtAuthGuard(new Reflector(), {} as JwtStrategy);
    for (const type of ['ws', 'rpc', 'graphql']) expect(guard.canActivate(contextOf(type))).toBe(true);
  });

  it('does not pass the mark on to a subclass, which may check WebSocket calls itself', () => {
    class StricterGuard extends JwtAuthGuard {}
    expect(isHttpOnlyGuard(StricterGuard)).toBe(false);
  });

  it('looks further at an HTTP call', () => {
    const guard = new JwtAuthGuard(new Reflector(), {} as JwtStrategy);
    expect(() => guard.canActivate(contextOf('http'))).toThrow('looked further');
  });
});
