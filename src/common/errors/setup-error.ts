/**
 * A failure to start (the server's, or a command's) whose message says it all: what is wrong,
 * naming the setting, and the fix. It is logged and printed without a stack trace, which would
 * only bury that sentence; any other error keeps its stack, since that is a bug to find.
 */
export class SetupError extends Error {
  override name = 'SetupError';
}
