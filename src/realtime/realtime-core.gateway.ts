import { SubscribeMessage } from '@nestjs/websockets';
import { RealtimeGateway } from './realtime-gateway.decorator.js';
import type { ServerEvent } from './server-events.js';

/**
 * The frames every connection understands whatever features are on. `auth` is handled before
 * any gateway (it decides whether frames reach gateways at all); this also opens the `/ws`
 * endpoint when no feature gateway is loaded.
 */
@RealtimeGateway()
export class RealtimeCoreGateway {
  @SubscribeMessage('ping')
  ping(): ServerEvent<'pong'> {
    return { type: 'pong' };
  }
}
