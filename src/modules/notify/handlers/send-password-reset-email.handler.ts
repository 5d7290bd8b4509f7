import { Logger } from '@nestjs/common';
import { EventsHandler, type IEventHandler } from '@nestjs/cqrs';
import { PasswordResetRequestedEvent } from '../../auth/events/password-reset-requested.event.js';
import { MailQueue } from '../mail-queue.service.js';

@EventsHandler(PasswordResetRequestedEvent)
export class SendPasswordResetEmailHandler implements IEventHandler<PasswordResetRequestedEvent> {
  private readonly logger = new Logger('Mail');

  constructor(private readonly queue: MailQueue) {}

  /** Never throws: POST /password/forgot answers 202 whatever happens to the email. */
  async handle(event: PasswordResetRequestedEvent): Promise<void> {
    try {
      await this.queue.enqueue({
        template: 'reset-password',
        to: { address: event.email, name: event.name },
        userId: event.userId,
        token: event.resetToken,
      });
    } catch (error) {
      this.logger.error(`Could not queue the password reset email for user ${event.userId}: ${String(error)}`);
    }
  }
}
