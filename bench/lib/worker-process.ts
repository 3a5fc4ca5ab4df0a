// A real registration worker in its own process, configured from the environment, with a silent logger.
// Its secret store is the in-memory one, or by BENCH_SECRET_STORE: `discard` (keeps nothing, for long
// runs) or `config` (the store the configuration names, SECRETS_BACKEND, as production builds it).
// Sends 'ready'; answers 'stats' with { workerStats: { memory, completed, failed } } (process.memoryUsage()
// and the jobs it finished for good); stops on SIGTERM or when the parent goes away.
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/index.js';
import type { SecretStore } from '../../src/secrets/index.js';
import { startRegistrationWorker } from '../../workers/registration-worker.js';
import { DiscardingSecretStore, MemorySecretStore } from './memory-secret-store.js';

const stores: Record<string, () => SecretStore | undefined> = {
  memory: () => new MemorySecretStore(),
  discard: () => new DiscardingSecretStore(),
  config: () => undefined,
};
const choice = process.env.BENCH_SECRET_STORE ?? 'memory';
const makeStore = stores[choice];
if (!makeStore) throw new Error(`BENCH_SECRET_STORE must be one of ${Object.keys(stores).join(', ')}`);
const secretStore = makeStore();

const running = await startRegistrationWorker(loadConfig(), {
  ...(secretStore ? { secretStore } : {}),
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
let completed = 0;
let failed = 0;
running.worker.on('completed', () => completed++);
running.worker.on('failed', (job) => {
  // A job that will be retried is not finished.
  if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) failed++;
});
process.on('message', (m) => {
  if (m === 'stats') process.send?.({ workerStats: { memory: process.memoryUsage(), completed, failed } });
});
process.send?.({ ready: true });
