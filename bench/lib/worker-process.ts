// A real registration worker in its own process, configured from the environment, with the in-memory
// secret store and a silent logger. Sends 'ready'; stops on SIGTERM or when the parent goes away.
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/index.js';
import { startRegistrationWorker } from '../../workers/registration-worker.js';
import { MemorySecretStore } from './memory-secret-store.js';

const running = await startRegistrationWorker(loadConfig(), {
  secretStore: new MemorySecretStore(),
  logger: createLogger({ level: 'silent' }),
});
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  running.close().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('disconnect', stop);
process.send?.({ ready: true });
