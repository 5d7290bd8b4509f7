import { Injectable, Optional } from '@nestjs/common';
import { EventBus } from '@nestjs/cqrs';
import { NotFoundError } from '../../common/errors/domain-error.js';
import { decodeCursor, encodeCursor, type Page } from '../../common/pagination/cursor.js';
import { PresenceQuery } from '../../realtime/presence-query.js';
import { NAME_MAX_LENGTH, normaliseName, type User } from './domain/user.js';
import { type MeDto, type PublicUserDto, toMe, toPublic } from './dto/user.dto.js';
import { UserRenamedEvent } from './events/user-renamed.event.js';
import { UserRepository, type UserSearchCursor } from './user.repository.js';
import { isUuid } from '../../common/ids/uuid.js';

/** Exactly what nextCursor holds: a lower-cased name no longer than a name can get (lower-casing may lengthen it), and an id. */
const isSearchCursor = (v: unknown): v is UserSearchCursor => {
  const c = v as Partial<UserSearchCursor> | null;
  return typeof c?.name === 'string' && c.name.length <= 3 * NAME_MAX_LENGTH && isUuid(c.id) && Object.keys(c).length === 2;
};

@Injectable()
export class UsersService {
  constructor(
    private readonly users: UserRepository,
    private readonly events: EventBus,
    @Optional() private readonly presence?: PresenceQuery,
  ) {}

  async getOrFail(id: string): Promise<User> {
    const user = await this.users.findById(id);
    if (!user) throw new NotFoundError('USER_NOT_FOUND', 'No such user.');
    return user;
  }

  async me(id: string): Promise<MeDto> {
    return toMe(await this.getOrFail(id));
  }

  /** Stores the new name; a changed one is told to the people whose direct chats are titled with it. `changed` false: it was the name already. */
  async rename(id: string, name: string): Promise<{ me: MeDto; changed: boolean }> {
    const before = await this.getOrFail(id);
    const normalised = normaliseName(name);
    if (normalised === before.name) return { me: toMe(before), changed: false };
    await this.users.update(id, { name: normalised });
    this.events.publish(new UserRenamedEvent(id));
    return { me: await this.me(id), changed: true };
  }

  async publicProfile(id: string): Promise<PublicUserDto> {
    const user = await this.getOrFail(id);
    const online = await this.onlineAmong([id]);
    return toPublic(user, online.has(id));
  }

  async search(query: string | undefined, limit = 20, cursor?: string): Promise<Page<PublicUserDto>> {
    const after = decodeCursor(cursor, isSearchCursor);
    // As names are stored (NFC, trimmed, each run of white space one space), so that what a name shows finds it.
    const found = await this.users.search(normaliseName(query ?? ''), limit + 1, after);
    const page = found.slice(0, limit);
    const online = await this.onlineAmong(page.map(({ user }) => user.id));
    const last = page[page.length - 1];
    return {
      items: page.map(({ user }) => toPublic(user, online.has(user.id))),
      nextCursor: found.length > limit && last ? encodeCursor({ name: last.sortName, id: last.user.id }) : null,
    };
  }

  private async onlineAmong(ids: string[]): Promise<Set<string>> {
    return this.presence ? this.presence.onlineAmong(ids) : new Set();
  }
}
