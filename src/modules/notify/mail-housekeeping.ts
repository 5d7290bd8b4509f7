import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Periodic, removeInBatches } from '../../common/concurrency/periodic.js';
import { MailLogRepository } from './mail-log.repository.js';
import { AppConfig } from '../../config/app-config.js';
import { pruneOutbox } from './infrastructure/transport/outbox-mail-transport.js';

/** How long a sent or failed message stays in the mail log, as a record of what was sent to whom. */
export const MAIL_KEPT_DAYS = 30;

/**
 * Removes sent and failed messages from the mail log after MAIL_KEPT_DAYS, and the outbox's files
 * (DATA_DIR/outbox, written while SMTP_URL is unset) after as long. Their bodies and links
 * went when they were settled; what is left (recipient, name, subject, errors) nothing reads, and
 * would otherwise pile up, a row per email. Pending ones stay, whatever their age. Every instance
 * runs it, hourly; two at once only share the work.
 */
@Injectable()
export class MailHousekeeping implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Mail');
  private readonly periodic = new Periodic('remove old messages from the mail log', 60 * 60_000, () => this.run(), this.logger);

  constructor(
    private readonly log: MailLogRepository,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.periodic.start(60_000);
  }

  /** Before the database closes. */
  onModuleDestroy(): Promise<void> {
    return this.periodic.stop();
  }

  /** One pass; says how many messages went from the mail log (and logs how many outbox files went). */
  async run(): Promise<number> {
    const removed = await removeInBatches((limit) => this.log.removeFinished(MAIL_KEPT_DAYS, limit));
    if (removed > 0) this.logger.log(`Removed ${removed} message(s) sent or failed over ${MAIL_KEPT_DAYS} days ago from the mail log.`);
    const files = await pruneOutbox(this.config.mail.outboxDir, MAIL_KEPT_DAYS);
    if (files > 0)
      this.logger.log(`Removed ${files} file(s) from the mail outbox (over ${MAIL_KEPT_DAYS} days old, or left half-written).`);
    return removed;
  }
}
