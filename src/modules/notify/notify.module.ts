import { Module } from '@nestjs/common';
import { AppConfig } from '../../config/app-config.js';
import { HealthRegistry } from '../health/health-registry.js';
import { SendConfirmationEmailHandler } from './handlers/send-confirmation-email.handler.js';
import { SendPasswordResetEmailHandler } from './handlers/send-password-reset-email.handler.js';
import { TypeormMailLogRepository } from './infrastructure/persistence/typeorm/typeorm-mail-log.repository.js';
import { OutboxMailTransport } from './infrastructure/transport/outbox-mail-transport.js';
import { SmtpMailTransport } from './infrastructure/transport/smtp-mail-transport.js';
import { MailDeliveryWorker } from './mail-delivery.worker.js';
import { MailLogRepository } from './mail-log.repository.js';
import { MailQueue } from './mail-queue.service.js';
import { MailTransport } from './mail-transport.js';

/**
 * Email. Listens to auth's events (UserSignedUpEvent, PasswordResetRequestedEvent), records each
 * message in mail_log and sends it from there through SMTP_URL, or into .eml files under
 * DATA_DIR/outbox when SMTP_URL is unset. Exports nothing: other modules talk to it by events.
 */
@Module({
  providers: [
    {
      provide: MailTransport,
      inject: [AppConfig],
      useFactory: ({ mail, isLocal }: AppConfig): MailTransport =>
        mail.smtpUrl ? new SmtpMailTransport(mail.smtpUrl, mail.outboxDir) : new OutboxMailTransport(mail.outboxDir, isLocal),
    },
    { provide: MailLogRepository, useClass: TypeormMailLogRepository },
    MailDeliveryWorker,
    MailQueue,
    SendConfirmationEmailHandler,
    SendPasswordResetEmailHandler,
  ],
})
export class NotifyModule {
  constructor(registry: HealthRegistry, transport: MailTransport) {
    // An SMTP check logs in to the mail server: at most one every 15 s, however often /health/ready is asked.
    registry.register('mail', transport.mode, () => transport.check(), { reuseForMs: transport.mode === 'smtp' ? 15_000 : 0 });
  }
}
