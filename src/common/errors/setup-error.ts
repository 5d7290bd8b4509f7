/**
 * A failure to start (the server's, or a command's) whose message says it all: what is wrong,
 * naming the setting, and the fix. It is logged and printed without a stack trace, which would
 * only bury that sentence; any other error keeps its stack, since that is a bug to find.
 */
export class SetupError extends Error {
  override name = 'SetupError';
}

/**
 * What to print for a failure: a SetupError's sentence alone; any other error's stack, with the
 * stacks of its causes (an unrecognised driver error kept as the cause of a sentence about it).
 */
export function failureText(error: unknown): string {
  if (error instanceof SetupError) return error.message;
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause === undefined ? '' : `\nCaused by: ${failureText(error.cause)}`;
  return `${error.stack ?? error.message}${cause}`;
}
