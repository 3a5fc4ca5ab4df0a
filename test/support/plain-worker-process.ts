// A registration worker in its own process, configured from the environment exactly as in production,
// so that a test can run a fleet of two. It reports 'ready' to the parent (IPC), forwards its log lines
// as `{ log: line }` messages, and stops cleanly on SIGTERM or when the parent goes away.
// TEST_LOCK_DURATION_MS shortens its job locks, so a test that kills it sees its jobs stall soon;
// TEST_MAX_STALLED_COUNT sets the stalled limit its stalled checks apply.

import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/index.js';
import { startRegistrationWorker } from '../../workers/registration-worker.js';

const logger = createLogger({
  level: 'debug',
  destination: { write: (line: string) => process.send?.({ log: line }) },
});
const lockDuration = Number(process.env.TEST_LOCK_DURATION_MS) || undefined;
const maxStalledCount = process.env.TEST_MAX_STALLED_COUNT
  ? Number(process.env.TEST_MAX_STALLED_COUNT)
  : undefined;
const running = await startRegistrationWorker(loadConfig(), {
  logger,
  workerOptions: {
    ...(lockDuration ? { lockDuration, stalledInterval: lockDuration / 4 } : {}),
    ...(maxStalledCount !== undefined ? { maxStalledCount } : {}),
  },
});
const stop = () => {
  running.close().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('disconnect', stop);
process.send?.('ready');
