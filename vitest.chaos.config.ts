// The project's chaos run (`npm run test:chaos`): kept out of `npm test` because it takes a few minutes
// and spawns its own Redis; `.ci/run` runs it with a fresh seed (CHAOS_SEED replays one). It shares the
// moto provisioning and the build of the other suites.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/chaos/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    env: { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' },
    testTimeout: 300_000,
    hookTimeout: 60_000,
  },
});
