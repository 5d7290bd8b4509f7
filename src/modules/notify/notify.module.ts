import { Global, Logger, Module, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '../../config/app-config.js';
import { HealthRegistry } from '../../common/health/health-registry.js';
import { TypeormMailLogRepository } from './infrastructure/persistence/typeorm/typeorm-mail-log.repository.js';
import { OutboxMailTransport } from './infrastructure/transport/outbox-mail-transport.js';
import { SmtpMailTransport } from './infrastructure/transport/smtp-mail-transport.js';
import { MailDeliveryWorker } from './mail-delivery.worker.js';
import { MailLogRepository } from './mail-log.repository.js';
import { MailHousekeeping } from './mail-housekeeping.js';
import { MailOutbox } from './mail-outbox.js';
import { MailOutboxService } from './mail-outbox.service.js';
import { MailTransport } from './mail-transport.js';

/**
 * Email. Other modules queue a message through MailOutbox inside their own transaction (auth does,
 * for sign-up and password reset); it is recorded in mail_log and sent from there through
 * SMTP_URL, or into .eml files under DATA_DIR/outbox when SMTP_URL is unset. Global, so that a
 * module can ask for MailOutbox with @Optional() without importing this one, which MODULES may
 * switch off.
 */
@Global()
@Module({
  providers: [
    {
      provide: MailTransport,
      inject: [AppConfig],
      useFactory: ({ mail, isLocal }: AppConfig): MailTransport => {
        if (mail.smtpUrl) return new SmtpMailTransport(mail.smtpUrl, mail.outboxDir);
        if (!isLocal)
          new Logger('Mail').warn(
            `SMTP_URL is unset: confirmation and password-reset emails are written to ${mail.outboxDir} and reach no one. Set SMTP_URL to send them, or MODULES without notify to run without email.`,
          );
        return new OutboxMailTransport(mail.outboxDir, isLocal);
      },
    },
    { provide: MailLogRepository, useClass: TypeormMailLogRepository },
    MailDeliveryWorker,
    MailHousekeeping,
    MailOutboxService,
    { provide: MailOutbox, useExisting: MailOutboxService },
  ],
  exports: [MailOutbox],
})
export class NotifyModule implements OnApplicationBootstrap, OnModuleDestroy {
  private startCheck: Promise<void> = Promise.resolve();

  constructor(
    private readonly registry: HealthRegistry,
    transport: MailTransport,
  ) {
    // An SMTP check logs in to the mail server: at most one every 15 s, however often /health/ready is asked.
    registry.register('mail', transport.mode, () => transport.check(), { reuseForMs: transport.mode === 'smtp' ? 15_000 : 0 });
  }

  /**
   * Mail does not hold up the start (it waits in the database and is retried), but a mail server
   * or outbox that cannot take it is said at once, in the log, not at the first /health/ready.
   */
  onApplicationBootstrap(): void {
    this.startCheck = this.registry.check('mail');
  }

  /** A check still running (a slow mail server) is waited for, within the check's own timeout, not left behind. */
  async onModuleDestroy(): Promise<void> {
    await this.startCheck;
  }
}
