import type { AppLogger } from './logging/app-logger.js';
import { errorMessage } from './errors/error-message.js';

/** The start was asked to stop (SIGTERM, SIGINT) before it was up; what it had opened is closed. */
export class StartInterrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`${signal} received while starting; stopped.`);
  }
}

/**
 * Keeps the stop signals (SIGTERM, SIGINT, SIGHUP) from killing the process while the app is being made and started, so
 * that what is opening (the embedded database, whose lock a kill would leave behind; the seed) is
 * closed in order once it is open. A second signal meanwhile stops at once, as it would have.
 * Should the start fail anyway, that failure is what is reported (exit 1), not the signal.
 */
export function holdStopSignals(signals: NodeJS.EventEmitter, logger: AppLogger): { received?: NodeJS.Signals; release(): void } {
  const held: { received?: NodeJS.Signals; release(): void } = {
    release: () => {
      for (const name of STOP_SIGNALS) signals.off(name, onSignal);
    },
  };
  function onSignal(signal: NodeJS.Signals): void {
    if (held.received) {
      held.release();
      if (signals === process) process.kill(process.pid, signal);
      return;
    }
    held.received = signal;
    logger.warn(`${signal} received while starting: stopping once what is opening is open (again to stop at once)`, 'Parley');
  }
  for (const name of STOP_SIGNALS) signals.on(name, onSignal);
  return held;
}

/**
 * Once the app is up: a stop signal closes it (Nest's shutdown hooks, in order), then a last line
 * says it stopped, whatever LOG_LEVEL says, as the start banner does, and the signal is raised
 * again with nothing listening, so the process ends as that signal would have ended it. Nest's
 * own enableShutdownHooks does the same without the line (an operator reading the log saw only
 * "SIGTERM received"). A second signal while it stops changes nothing (main.ts's timer bounds the
 * stop).
 */
export function stopOnSignals(app: { close(signal?: string): Promise<void> }, signals: NodeJS.EventEmitter, logger: AppLogger): void {
  let stopping = false;
  function onSignal(signal: NodeJS.Signals): void {
    if (stopping) return;
    stopping = true;
    app.close(signal).then(
      () => {
        for (const name of STOP_SIGNALS) signals.off(name, onSignal);
        logger.announce(`Parley stopped (${signal})`, 'Parley');
        if (signals === process) process.kill(process.pid, signal);
      },
      (error: unknown) => {
        logger.error(`The stop failed: ${errorMessage(error)}`, error instanceof Error ? error.stack : undefined, 'Parley');
        if (signals === process) process.exit(1);
      },
    );
  }
  for (const name of STOP_SIGNALS) signals.on(name, onSignal);
}

/**
 * The signals that stop the server, gracefully. Not Nest's whole list: SIGUSR2 is how a heap
 * snapshot is asked for (`node --heapsnapshot-signal=SIGUSR2`), and SIGQUIT, SIGABRT and the
 * fault signals keep their own meaning.
 */
export const STOP_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/**
 * How long a stop may take before the process exits anyway: 30 s, or longer with a long
 * DATABASE_QUERY_TIMEOUT (a statement under way, plus a connection's 10 s to open, and a margin).
 * A stop normally takes about 5 s (connections answered and closed, the database and Redis
 * closed); something that never ends must not keep a stopped server alive until someone kills it.
 * Exiting then loses nothing a crash would not: what was acknowledged is stored.
 */
export function stopDeadlineMs(queryTimeoutSeconds: number): number {
  return Math.max(30, queryTimeoutSeconds + 15) * 1000;
}

/** After a stop signal: exits with 1 if the process is still there `ms` later, saying so. The timer keeps nothing alive. */
export function exitIfStopOverruns(
  signal: NodeJS.Signals,
  logger: Pick<AppLogger, 'error'>,
  ms: number,
  exit: (code: number) => void = (code) => process.exit(code),
): NodeJS.Timeout {
  return setTimeout(() => {
    logger.error(
      `Still stopping ${ms / 1000} s after ${signal} (a connection or a database statement that does not end); exiting now. What was acknowledged is stored.`,
      'Parley',
    );
    exit(1);
  }, ms).unref();
}
