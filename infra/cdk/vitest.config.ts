import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // aws-cdk-lib takes seconds to import; one worker that keeps it loaded across files is faster
    // than a fresh import per file.
    isolate: false,
    fileParallelism: false,
    testTimeout: 60_000,
  },
});
