import { FEATURE_MODULES, type FeatureModuleName } from '../../config/modules.config.js';
import { switchedOffModule } from './switched-off.js';

const without = (...off: FeatureModuleName[]) => new Set(FEATURE_MODULES.filter((m) => !off.includes(m)));

describe('switchedOffModule', () => {
  it.each([
    ['/api/v1/auth/sign-in', 'auth'],
    ['/api/v1/users', 'users'],
    ['/api/v1/users/me/avatar', 'users'],
    ['/api/v1/chats', 'chats'],
    ['/api/v1/chats/', 'chats'],
    ['/api/v1/chats/abc/members/def', 'chats'],
    ['/api/v1/chats/abc/messages', 'messages'],
    ['/api/v1/chats/abc/messages/def/reads', 'messages'],
    ['/api/v1/chats/abc/read', 'messages'],
    ['/health', 'health'],
    ['/health/ready', 'health'],
    ['/ws', 'auth'],
  ] as const)('names the module of %s when it is off, and nothing when it runs', (path, module) => {
    expect(switchedOffModule(path, without(module))?.message).toBe(
      `${path} is served by the ${module} module, which this server runs without (MODULES).`,
    );
    expect(switchedOffModule(path, without())).toBeUndefined();
  });

  it('leaves paths that are no module’s alone, however alike', () => {
    const none = new Set<FeatureModuleName>();
    for (const path of [
      '/api/v1/chatroom',
      '/api/v1/authors',
      '/healthz',
      '/health/ready/x',
      '/api/v2/chats',
      '/ui/',
      '/wsx',
      '/',
      '/api/docs',
    ])
      expect(switchedOffModule(path, none)).toBeUndefined();
  });
});
