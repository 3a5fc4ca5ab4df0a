// The Redis Cluster pass (`npm run test:cluster`): the suites that exercise Redis run once more against
// a three-master cluster (REDIS_CLUSTER_URL, or one spawned by the global setup), with hash-tagged
// prefixes, plus the cluster's own tests (slot migration, refusals). `.ci/run` runs it after `npm test`.
import { configDefaults, defineConfig } from 'vitest/config';

// Read by the global setup, which runs in this process.
process.env.TEST_REDIS_CLUSTER = '1';

export default defineConfig({
  test: {
    include: [
      'test/cluster/**/*.test.ts',
      'test/integration/{pipeline,rotation,limits,events,discovery-cache,provisioning,server}/**/*.test.ts',
      'test/e2e/{cli,rotation-cli,service-processes}.test.ts',
    ],
    // Puts toggling proxies in front of one standalone Redis: nothing a cluster adds.
    exclude: [...configDefaults.exclude, 'test/integration/server/probes-and-outages.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    env: { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' },
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
