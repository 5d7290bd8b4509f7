import type { OpenAPIObject } from '@nestjs/swagger';
import { operationsOf } from './operations.js';

/** What a generated client names its method: camelCase, starting with the verb (`listChats`). */
const OPERATION_ID = /^[a-z][a-zA-Z0-9]*$/;

/**
 * What is wrong with the document's operationIds, a sentence each (none when all is well). Every
 * operation names its own in `@ApiOperation({ operationId })`, written out beside its summary
 * rather than made from the handler's name, so that renaming a method or a controller does not
 * rename a generated client's methods. Nest's default, `ChatsController_create`, means one was
 * left out; two operations with one id would make a generated client drop or rename one.
 */
export function operationIdProblems(document: OpenAPIObject): string[] {
  const problems: string[] = [];
  const routesById = new Map<string, string[]>();
  for (const { method, path, operation } of operationsOf(document)) {
    const route = `${method.toUpperCase()} ${path}`;
    const id = operation.operationId;
    if (typeof id !== 'string' || !OPERATION_ID.test(id)) {
      problems.push(
        `${route} has the operationId ${JSON.stringify(id)}, not one of its own in camelCase: give it one with @ApiOperation({ operationId })`,
      );
      continue;
    }
    routesById.set(id, [...(routesById.get(id) ?? []), route]);
  }
  for (const [id, routes] of routesById)
    if (routes.length > 1) problems.push(`${routes.join(' and ')} share the operationId "${id}": each needs one of its own`);
  return problems;
}
