import { RealtimeGateway } from './realtime-gateway.decorator.js';

describe('RealtimeGateway', () => {
  it('refuses a gateway with a Nest connection hook, naming it and where presence comes from instead', () => {
    expect(() => {
      @RealtimeGateway()
      class HookedGateway {
        handleDisconnect(): void {}
      }
      return HookedGateway;
    }).toThrow(/HookedGateway\.handleDisconnect: .*PresenceAudience\/LastSeenRecorder/);
  });

  it('accepts a gateway without them', () => {
    expect(() => {
      @RealtimeGateway()
      class PlainGateway {}
      return PlainGateway;
    }).not.toThrow();
  });
});
