/**
 * What an error says, for a log line or a sentence: its message; for an AggregateError without one
 * of its own (a refused connection to a host with several addresses), the messages of the errors
 * in it; for an error with an empty message, its name; for anything else thrown, the value as text.
 */
export function errorMessage(error: unknown): string {
  if (error instanceof AggregateError && !error.message) return error.errors.map(errorMessage).join('; ');
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
