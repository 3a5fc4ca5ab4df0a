// The dashboard test in a real browser (`npm run test:browser`): kept out of `npm test` because it needs
// Chromium (CHROMIUM_PATH or Debian's /usr/bin/chromium). It shares the Redis and moto provisioning.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/browser/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    env: { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
