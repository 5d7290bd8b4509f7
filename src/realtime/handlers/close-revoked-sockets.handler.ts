import { EventsHandler, type IEventHandler } from '@nestjs/cqrs';
import { SessionsRevokedEvent } from '../../modules/auth/events/session-revoked.event.js';
import { RealtimeService } from '../realtime.service.js';

/** A revoked session's sockets close with 4401 on every instance, not at their token's expiry. */
@EventsHandler(SessionsRevokedEvent)
export class CloseRevokedSocketsHandler implements IEventHandler<SessionsRevokedEvent> {
  constructor(private readonly realtime: RealtimeService) {}

  async handle(event: SessionsRevokedEvent): Promise<void> {
    await this.realtime.closeSessions(event.userId, event.sessionIds, 'SESSION_REVOKED');
  }
}
