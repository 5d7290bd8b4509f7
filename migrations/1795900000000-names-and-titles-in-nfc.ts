import type { MigrationInterface, QueryRunner } from 'typeorm';
import { returnedRows } from '../src/database/sql.js';

/**
 * Names and titles are now stored in NFC (normaliseName, normaliseTitle), and searched in it, so
 * those stored before in another form (a decomposed "é") are rewritten: search finds them, and a
 * title typed in either form is the owner's one title. A group title whose NFC form the same
 * owner already has (two forms of one title, which is what this rule now prevents) is left as it
 * is, with a notice. Chats kept in MongoDB (MESSAGE_STORE=mongo) are not rewritten here.
 */
export class NamesAndTitlesInNfc1795900000000 implements MigrationInterface {
  name = 'NamesAndTitlesInNfc1795900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE users SET name = normalize(name, NFC) WHERE name IS NOT NFC NORMALIZED`);
    const titles = (await q.query(
      `SELECT id FROM chats WHERE title IS NOT NULL AND title IS NOT NFC NORMALIZED ORDER BY created_at, id`,
    )) as Array<{
      id: string;
    }>;
    // One at a time: each sees the titles rewritten before it, so two forms of one title cannot both land on it.
    for (const { id } of titles) {
      const rewritten = returnedRows(
        await q.query(
          `UPDATE chats c SET title = normalize(c.title, NFC)
          WHERE c.id = $1
            AND NOT (c.type = 'group' AND EXISTS (
              SELECT 1 FROM chats o
               WHERE o.type = 'group' AND o.owner_id = c.owner_id AND o.id <> c.id AND lower(o.title) = lower(normalize(c.title, NFC))))
          RETURNING c.id`,
          [id],
        ),
      );
      if (rewritten.length === 0) {
        console.warn(
          `Migration ${this.name}: group ${id} keeps its title as stored: its owner has another group with the same title in NFC. Rename one of them.`,
        );
      }
    }
  }

  async down(): Promise<void> {
    // The earlier forms are not kept; NFC works with the earlier code too.
  }
}
