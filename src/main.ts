// First: V8 flags, before the rest of the application is loaded.
import './v8-flags.js';
import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { constants } from 'node:os';
import { createApp } from './app.factory.js';
import { STOP_SIGNALS, StartInterrupted, exitIfStopOverruns, stopDeadlineMs } from './common/startup-signals.js';
import { ConfigError } from './config/env-reader.js';
import { type AppConfig, loadConfig, localUnderProductionWarning } from './config/app-config.js';
import { readDotEnv, unreadDotEnvNames } from './config/dot-env.js';
import { AppLogger } from './common/logging/app-logger.js';
import { releaseVersion } from './common/project-root.js';
import { failureText } from './common/errors/setup-error.js';
import { checkPortFree, explainListenError } from './common/http/listen-errors.js';

const dotEnv = readDotEnv();

async function main(): Promise<void> {
  if (dotEnv.problems.length > 0) {
    process.stderr.write(dotEnv.problems.join('\n') + '\n');
    process.exit(78); // EX_CONFIG
  }
  let config;
  const asked = new Set<string>();
  try {
    config = loadConfig(process.env, asked);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(error.message + '\n');
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  if (config.http.port === 0 && new URL(config.http.publicUrl).port === '0') {
    // Email links and the WebSocket origin check are built from the public URL before the port is known.
    process.stderr.write(
      'PORT=0 (any free port) needs PUBLIC_URL, or email links and the chat page would point at port 0; set PUBLIC_URL or choose a port.\n',
    );
    process.exit(78);
  }
  // A port that is taken is told at once, not after the database, the migrations and the seed.
  await checkPortFree(config.http.port);
  const logger = new AppLogger(config.log.level, config.log.format);
  const localUnderProduction = localUnderProductionWarning(process.env);
  if (localUnderProduction) logger.warn(localUnderProduction, 'Parley');
  const unread = unreadDotEnvNames(dotEnv.names, asked);
  if (unread.length > 0)
    logger.warn(
      `.env sets ${unread.join(', ')}, which ${unread.length === 1 ? 'is' : 'are'} not a Parley setting: a misspelt name? (The configuration table in the README lists every name.)`,
      'Parley',
    );
  const app = await createApp(config, logger, { shutdownHooks: true });
  // Nest closes the app on these (shutdownHooks); the log says why it stops, once.
  let stopping = false;
  for (const signal of STOP_SIGNALS) {
    process.once(signal, () => {
      logger.log(stopping ? `${signal} received (already stopping)` : `${signal} received: closing connections, then stopping`, 'Parley');
      if (!stopping) exitIfStopOverruns(signal, logger, stopDeadlineMs(config.database.queryTimeoutSeconds));
      stopping = true;
    });
  }
  try {
    await app.listen(config.http.port);
  } catch (error) {
    await app.close().catch(() => undefined); // releases the embedded database's lock, among others
    throw explainListenError(error, config.http.port);
  }

  const { port } = app.getHttpServer().address() as AddressInfo;
  logger.announce(startBanner(config, port), 'Parley');
}

/** The lines that say the server is up: its version and where each part of it is reached. */
function startBanner(config: AppConfig, port: number): string {
  const base = config.http.publicUrl;
  const backends = Object.entries(config.describeBackends()).map(([k, v]) => `  ${k.padEnd(14)} ${v}`);
  return [
    `Parley ${releaseVersion() ?? ''} is up (${config.appEnv}, Node ${process.versions.node}) on port ${port}`.replace('  ', ' '),
    // Only what this MODULES serves: the page and the socket need auth, the health routes health.
    // The REST routes all need auth; /api/v1 itself is only their prefix.
    ...(config.isEnabled('auth') ? [`  REST API       ${base}/api/v1/… (every route in the docs below)`] : []),
    `  Docs           ${base}/api/docs`,
    ...(config.isEnabled('auth') ? [`  Test chat page ${base}/ui`, `  WebSocket      ${base.replace(/^http/, 'ws')}/ws`] : []),
    ...(config.isEnabled('health') ? [`  Health         ${base}/health/ready`] : []),
    `  Modules        ${[...config.modules].join(', ')}`,
    ...backends,
  ].join('\n');
}

main().catch((error: unknown) => {
  if (error instanceof StartInterrupted) {
    process.stderr.write(`Parley stopped while starting: ${error.message}\n`);
    process.exit(128 + constants.signals[error.signal]); // as if the signal had ended it
  }
  // A bug's stack is worth printing; a SetupError's sentence is the whole story.
  process.stderr.write(`Parley failed to start: ${failureText(error)}\n`);
  process.exit(1);
});
