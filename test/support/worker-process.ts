// A registration worker in its own process whose secret store reports each successful write to the
// parent (IPC) and then never returns, so a test can SIGKILL the process between "credentials stored"
// and "job completed". Configuration comes from the environment, as in production.

import { loadConfig } from '../../src/config/index.js';
import { createSecretStore, type SecretStore } from '../../src/secrets/index.js';
import { startRegistrationWorker } from '../../workers/registration-worker.js';

const config = loadConfig();
const real = createSecretStore(config);
const stallingStore: SecretStore = {
  async write(write) {
    await real.write(write);
    process.send?.('secret-written');
    return new Promise(() => {});
  },
  writePending: (write) => real.writePending(write),
  makeCurrent: (name, versionId, options) => real.makeCurrent(name, versionId, options),
  readCurrent: (name) => real.readCurrent(name),
  readPrevious: (name) => real.readPrevious(name),
  readVersion: (name, versionId) => real.readVersion(name, versionId),
  list: (prefix, options) => real.list(prefix, options),
  readTags: (name) => real.readTags(name),
  close: () => real.close(),
};

// A short lock lets the surviving worker take the job over soon after this process is killed; the
// stalled-check interval is fleet-wide in Redis (the last checker's interval holds), so it is short too.
await startRegistrationWorker(config, {
  secretStore: stallingStore,
  workerOptions: { lockDuration: 1000, stalledInterval: 250 },
});
process.send?.('ready');
