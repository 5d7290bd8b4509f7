import { MessageBody, SubscribeMessage } from '@nestjs/websockets';
import { unknownFields, ValidationError } from '../common/errors/domain-error.js';
import { RealtimeGateway } from './realtime-gateway.decorator.js';
import type { ServerEvent } from './server-events.js';

/**
 * The frames every connection understands whatever features are on. `auth` is handled before
 * any gateway (it decides whether frames reach gateways at all); this also opens the `/ws`
 * endpoint when no feature gateway is loaded.
 */
@RealtimeGateway()
export class RealtimeCoreGateway {
  /** `ping` has no fields; an unknown one is refused as on every other frame (a DTO without rules cannot say so). */
  @SubscribeMessage('ping')
  ping(@MessageBody() frame: Record<string, unknown>): ServerEvent<'pong'> {
    const unknown = Object.keys(frame);
    if (unknown.length > 0) {
      const { details, more } = unknownFields(unknown);
      throw new ValidationError(details.map((d) => d.message).join('; ') + more, details);
    }
    return { type: 'pong' };
  }
}
