import { constants } from 'node:fs';
import { access, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import MailComposer from 'nodemailer/lib/mail-composer';
import { errorMessage } from '../../../../common/errors/error-message.js';
import { makeDirectory } from '../../../../common/fs/make-directory.js';
import type { OutgoingMail } from '../../domain/mail.js';
import { MailTransport } from '../../mail-transport.js';

/**
 * Used when SMTP_URL is unset: each message becomes one .eml file (open it in any mail client).
 * Under APP_ENV=LOCAL its link is logged too, so a local user can confirm an account straight
 * from the console; elsewhere logs are shipped and kept, and a live reset token has no place there.
 */
export class OutboxMailTransport extends MailTransport {
  readonly mode = 'outbox';
  private readonly logger = new Logger('Mail');

  constructor(
    private readonly dir: string,
    private readonly logLinks = false,
  ) {
    super();
  }

  async send(mail: OutgoingMail): Promise<void> {
    const message = await new MailComposer({
      from: mail.from,
      to: { name: mail.to.name, address: mail.to.address },
      subject: mail.subject,
      text: mail.text,
      html: mail.html,
      messageId: mail.messageId,
      headers: { 'X-Parley-Template': mail.template },
    })
      .compile()
      .build();
    const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${mail.template}-${mail.id}.eml`;
    const path = join(this.dir, name);
    try {
      await makeDirectory(this.dir, 0o700);
      // Written aside and renamed, so a watcher of the directory never reads half a message. Only
      // the server's user may read it: it holds live confirmation and reset links.
      await writeFile(`${path}.part`, message, { mode: 0o600 });
      await rename(`${path}.part`, path);
    } catch (error) {
      await rm(`${path}.part`, { force: true }).catch(() => undefined); // a part written before the disk filled up
      throw notWritable(this.dir, error);
    }
    this.logger.log(
      `Wrote ${mail.template} email for ${mail.to.address} to ${path}${this.logLinks ? `; its link: ${mail.actionUrl}` : ''}`,
    );
  }

  async check(): Promise<void> {
    try {
      await makeDirectory(this.dir, 0o700);
      await access(this.dir, constants.W_OK);
    } catch (error) {
      throw notWritable(this.dir, error);
    }
  }

  async close(): Promise<void> {}
}

function notWritable(dir: string, error: unknown): Error {
  return new Error(
    `The mail outbox ${dir} is not writable: ${errorMessage(error)}; fix its permissions or DATA_DIR, or set SMTP_URL to send real email.`,
  );
}

/** A `.part` is written in one go and renamed at once: one this old was left by a crash. */
const PART_LEFT_AFTER_MS = 60 * 60_000;

/**
 * The outbox (`dir`) is a record of what was sent, kept as long as the mail log keeps its rows:
 * files older than `days` go, or the directory would grow by a file per email for as long as the
 * server runs. Also once SMTP_URL is set: what the outbox got before stays no longer. A half-written
 * `.part` a crash left goes after an hour (its email is sent again whole; the part holds a live
 * link, unread by anyone). Says how many went.
 */
export async function pruneOutbox(dir: string, days: number): Promise<number> {
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  const cutoff = Date.now() - days * 24 * 60 * 60_000;
  const partCutoff = Date.now() - PART_LEFT_AFTER_MS;
  let removed = 0;
  for (const name of names) {
    if (!name.endsWith('.eml') && !name.endsWith('.eml.part')) continue;
    const path = join(dir, name);
    const stats = await stat(path).catch(() => undefined);
    if (!stats?.isFile() || stats.mtimeMs >= (name.endsWith('.part') ? partCutoff : cutoff)) continue;
    await unlink(path).then(
      () => removed++,
      () => undefined, // gone meanwhile (another instance sharing DATA_DIR), or not ours to remove: the next pass says so if it lasts
    );
  }
  return removed;
}
