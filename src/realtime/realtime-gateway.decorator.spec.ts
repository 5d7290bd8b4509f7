import { RealtimeGateway } from './realtime-gateway.decorator.js';

describe('RealtimeGateway', () => {
  it('refuses a gateway with a Nest connection hook, naming it and what to use instead', () => {
    expect(() => {
      @RealtimeGateway()
      class HookedGateway {
        handleDisconnect(): void {}
      }
      return HookedGateway;
    }).toThrow(/HookedGateway\.handleDisconnect: .*PresenceService/);
  });

  it('accepts a gateway without them', () => {
    expect(() => {
      @RealtimeGateway()
      class PlainGateway {}
      return PlainGateway;
    }).not.toThrow();
  });
});
