import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
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

/**
 * Renders a message and records it as pending; the worker sends it. Queuing first means a mail
 * server that is down delays the email but never the request that caused it.
 */
@Injectable()
export class MailQueue {
  constructor(
    private readonly config: AppConfig,
    private readonly log: MailLogRepository,
    private readonly worker: MailDeliveryWorker,
  ) {}

  /** Returns the mail log id. */
  async enqueue(request: MailRequest): Promise<string> {
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
