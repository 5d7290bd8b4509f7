import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AppConfig } from '../../config/app-config.js';
import { MailDeliveryWorker } from './mail-delivery.worker.js';
import { MailLogRepository } from './mail-log.repository.js';
import { MailOutbox, type MailRequest } from './mail-outbox.js';
import { linkLifetimeSeconds, renderMail } from './templates/mail-templates.js';

/**
 * Renders a message and records it as pending in the caller's transaction; the worker sends it.
 * Queuing first means a mail server that is down delays the email but never the request that
 * caused it.
 */
@Injectable()
export class MailOutboxService extends MailOutbox {
  constructor(
    private readonly config: AppConfig,
    private readonly log: MailLogRepository,
    private readonly worker: MailDeliveryWorker,
  ) {
    super();
  }

  async queue(request: MailRequest, tx: EntityManager): Promise<void> {
    const rendered = renderMail(request.template, {
      publicUrl: this.config.http.publicUrl,
      name: request.to.name,
      token: request.token,
    });
    await this.log.add(
      Object.assign({}, rendered, {
        id: randomUUID(),
        template: request.template,
        userId: request.userId,
        from: this.config.mail.from,
        to: request.to,
        expiresInSeconds: linkLifetimeSeconds(request.template),
      }),
      tx,
    );
  }

  wake(): void {
    this.worker.wake();
  }
}
