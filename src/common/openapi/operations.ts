import type { OpenAPIObject } from '@nestjs/swagger';

/** One operation of the document, with where it is. */
export interface DocumentedOperation {
  /** Lower case, as the document keys it: `get`, `post`, … */
  method: string;
  path: string;
  operation: { operationId?: string; parameters?: unknown[]; [key: string]: unknown };
}

/** Every operation of the document (a path item's other entries, such as shared parameters, left out). */
export function operationsOf(document: OpenAPIObject): DocumentedOperation[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item as Record<string, unknown>)
      .filter(([, value]) => typeof value === 'object' && value !== null && 'responses' in value)
      .map(([method, value]) => ({ method, path, operation: value as DocumentedOperation['operation'] })),
  );
}
