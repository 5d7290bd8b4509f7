import type { OpenAPIObject } from '@nestjs/swagger';
import { operationIdProblems } from './operation-ids.js';

function documentWith(paths: Record<string, Record<string, { operationId?: string }>>): OpenAPIObject {
  const withResponses = Object.fromEntries(
    Object.entries(paths).map(([path, item]) => [
      path,
      Object.fromEntries(Object.entries(item).map(([method, operation]) => [method, Object.assign({ responses: {} }, operation)])),
    ]),
  );
  return { openapi: '3.0.0', info: { title: 't', version: '1' }, paths: withResponses };
}

describe('operationIdProblems', () => {
  it('finds nothing wrong when every operation has a camelCase id of its own', () => {
    const document = documentWith({
      '/chats': { get: { operationId: 'listChats' }, post: { operationId: 'createChat' } },
      '/chats/{id}': { get: { operationId: 'getChat' } },
    });
    // A path item's shared parameters are not an operation.
    Object.assign(document.paths['/chats/{id}']!, { parameters: [{ name: 'id', in: 'path', required: true }] });
    expect(operationIdProblems(document)).toEqual([]);
  });

  it("names an operation left with Nest's default id, or with none", () => {
    const document = documentWith({
      '/chats': { get: { operationId: 'ChatsController_list' }, post: {} },
      '/users/me': { get: { operationId: 'get_me' } },
    });
    expect(operationIdProblems(document)).toEqual([
      expect.stringMatching(/^GET \/chats has the operationId "ChatsController_list", not one of its own/),
      expect.stringMatching(/^POST \/chats has the operationId undefined/),
      expect.stringMatching(/^GET \/users\/me has the operationId "get_me"/),
    ]);
  });

  it('names the operations that share an id', () => {
    const document = documentWith({
      '/chats/{id}': { delete: { operationId: 'remove' } },
      '/chats/{chatId}/messages/{id}': { delete: { operationId: 'remove' } },
    });
    expect(operationIdProblems(document)).toEqual([
      'DELETE /chats/{id} and DELETE /chats/{chatId}/messages/{id} share the operationId "remove": each needs one of its own',
    ]);
  });
});
