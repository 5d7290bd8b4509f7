import 'reflect-metadata';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../config/env-reader.js';
import { readDotEnv } from '../config/dot-env.js';
import { SetupError, failureText } from '../common/errors/setup-error.js';

/** A failure the CLI explains in one sentence, without a stack trace. */
export class CliError extends SetupError {}

/** True when the module at moduleUrl is the script node was started with (not imported by a test). */
export function isMain(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && moduleUrl === pathToFileURL(process.argv[1]).href;
}

/** Reads .env, runs the command, and exits with 0, 78 (bad configuration) or 1. */
export function runCli(name: string, command: () => Promise<void>): void {
  const { problems } = readDotEnv();
  if (problems.length > 0) {
    process.stderr.write(`${name} failed, the configuration is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
    process.exit(78); // EX_CONFIG
  }
  command().then(
    () => process.exit(0),
    (error: unknown) => {
      if (error instanceof ConfigError) {
        process.stderr.write(`${name} failed, the configuration is invalid:\n${error.problems.map((p) => `  - ${p}`).join('\n')}\n`);
        process.exit(78); // EX_CONFIG
      }
      process.stderr.write(`${name} failed: ${failureText(error)}\n`);
      process.exit(1);
    },
  );
}
