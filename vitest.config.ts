import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The real-browser test (npm run test:browser) needs Chromium; the chaos run (npm run test:chaos)
    // takes minutes and a Redis of its own; the cluster's own tests (npm run test:cluster) need a cluster.
    exclude: [...configDefaults.exclude, 'test/browser/**', 'test/chaos/**', 'test/cluster/**'],
    globalSetup: ['test/support/global-setup.ts'],
    // The AWS SDK needs some credentials; moto accepts any. Never real ones in tests.
    env: { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' },
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
