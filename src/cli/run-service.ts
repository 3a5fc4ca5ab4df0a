// `dcr-provisioner start | worker | server`: the service's process kinds. Each runs until SIGTERM or
// SIGINT, then stops taking work, lets in-flight jobs and requests finish (within a deadline) and exits 0.

import { Command } from 'commander';
import { type ApplicationOptions, startApplication } from '../../workers/application.js';
import { loadConfig } from '../config/index.js';

/** Past this, shutdown gives up waiting and exits anyway: an orchestrator would kill us soon after. */
const SHUTDOWN_DEADLINE_MS = 25_000;

async function runUntilSignal(options: ApplicationOptions): Promise<void> {
  const app = await startApplication(loadConfig(), options);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  app.logger.info({ signal }, 'shutting down');
  const deadline = setTimeout(() => {
    app.logger.error({ deadlineMs: SHUTDOWN_DEADLINE_MS }, 'shutdown deadline passed; exiting');
    process.exit(1);
  }, SHUTDOWN_DEADLINE_MS);
  deadline.unref();
  await app.close();
  clearTimeout(deadline);
}

export function serviceCommands(): Command[] {
  return [
    new Command('start')
      .description('Run the worker and the HTTP server (API, board, metrics) in one process')
      .action(() => runUntilSignal({ worker: true, server: true })),
    new Command('worker')
      .description('Run only the registration worker')
      .action(() => runUntilSignal({ worker: true, server: false })),
    new Command('server')
      .description('Run only the HTTP server: API, board, /healthz, /readyz, /metrics')
      .action(() => runUntilSignal({ worker: false, server: true })),
  ];
}
