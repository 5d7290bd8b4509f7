import { randomUUID } from 'node:crypto';
import { DomainError } from '../../src/common/errors/domain-error.js';
import type { MessageRepository } from '../../src/modules/messages/message.repository.js';
import type { ActorCheck, ChatRepository, RemovalPlan } from '../../src/modules/chats/chat.repository.js';

/** What the chat and message store contracts run against: both stores of one adapter, and a way to make users. */
export interface ConversationStores {
  chats: ChatRepository;
  messages: MessageRepository;
  /** Creates a user the store may reference and returns their id. */
  newUser(): Promise<string>;
}

/** A permission check that lets anyone through (the handlers' own checks are tested end to end). */
export const anyone: ActorCheck = { actorId: randomUUID(), allow: () => undefined };

/** A removal that keeps the chat and hands nothing over. */
export const keepChat = (): RemovalPlan => ({ deleteChat: false, successors: [] });

/** Retries `check` until it passes, for work a store may finish after the call that started it. */
export const eventually = async (check: () => Promise<void>, timeoutMs = 10_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
};

export const codeOf = async (promise: Promise<unknown>): Promise<string | undefined> => {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return error instanceof DomainError ? error.code : `unexpected: ${String(error)}`;
  }
};

/**
 * What every ChatRepository adapter must do. Registered with jest by a spec that supplies the
 * stores (test/repository-contract.e2e-spec.ts), once per available adapter.
 */
