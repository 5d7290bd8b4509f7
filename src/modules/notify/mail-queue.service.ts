import { randomUUID } from 'node:crypto';
import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { BackgroundWork } from '../../common/concurrency/background-work.js';
import { AppConfig } from '../../config/app-config.js';
import type { MailRecipient, MailTemplateName } from './domain/mail.js';
import { MailDeliveryWorker } from './mail-delivery.worker.js';
import { MailLogRepository } from './mail-log.repository.js';
import { linkLifetimeSeconds, renderMail } from './templates/mail-templates.js';

export interface MailRequest {
  template: MailTemplateName;
  to: MailRecipient;
  userId?: string;
  /** The single-use token the email's link carries. */
  token: string;
}

/** How long shutdown waits for emails being queued. */
const QUEUING_GRACE_MS = 10_000;

/**
 * Renders a message and records it as pending; the worker sends it. Queuing first means a mail
 * server that is down delays the email but never the request that caused it.
 */
@Injectable()
export class MailQueue implements OnApplicationShutdown {
  /** Event handlers queue mail after the request that caused it was answered. */
  private readonly queuing = new BackgroundWork();
  private readonly logger = new Logger('Mail');

  constructor(
    private readonly config: AppConfig,
    private readonly log: MailLogRepository,
    private readonly worker: MailDeliveryWorker,
  ) {}

  /** Returns the mail log id. */
  enqueue(request: MailRequest): Promise<string> {
    return this.queuing.track(this.record(request));
  }

  /**
   * Shutdown keeps the database open until every email asked for is in the log; one that arrives
   * after the worker stopped waits there as pending, for the next start (or another instance).
   * This hook runs after every beforeApplicationShutdown hook, where services finish the work
   * they answered for (and may ask for mail), and before the database module's, which is global
   * and so shut down last.
   */
  async onApplicationShutdown(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), QUEUING_GRACE_MS)));
    const late = await Promise.race([this.queuing.settled().then(() => false), gaveUp]);
    clearTimeout(timer);
    if (late)
      this.logger.error(
        `Shutting down with emails still being queued after ${QUEUING_GRACE_MS / 1000} s (the database is slow or locked): those emails are lost; their users can ask again.`,
      );
  }

  private async record(request: MailRequest): Promise<string> {
    const rendered = renderMail(request.template, {
      publicUrl: this.config.http.publicUrl,
      name: request.to.name,
      token: request.token,
    });
    const id = randomUUID();
    await this.log.add(
      Object.assign({}, rendered, {
        id,
        template: request.template,
        userId: request.userId,
        from: this.config.mail.from,
        to: request.to,
        expiresInSeconds: linkLifetimeSeconds(request.template),
      }),
    );
    this.worker.wake();
    return id;
  }
}
