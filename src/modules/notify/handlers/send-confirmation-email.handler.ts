import { Logger } from '@nestjs/common';
import { EventsHandler, type IEventHandler } from '@nestjs/cqrs';
import { UserSignedUpEvent } from '../../auth/events/user-signed-up.event.js';
import { MailQueue } from '../mail-queue.service.js';

@EventsHandler(UserSignedUpEvent)
export class SendConfirmationEmailHandler implements IEventHandler<UserSignedUpEvent> {
  private readonly logger = new Logger('Mail');

  constructor(private readonly queue: MailQueue) {}

  /** Never throws: the account exists whatever happens to its email. */
  async handle(event: UserSignedUpEvent): Promise<void> {
    try {
      await this.queue.enqueue({
        template: 'confirm-email',
        to: { address: event.email, name: event.name },
        userId: event.userId,
        token: event.confirmationToken,
      });
    } catch (error) {
      this.logger.error(`Could not queue the confirmation email for user ${event.userId}: ${String(error)}`);
    }
  }
}
