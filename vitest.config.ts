import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Two cores: tests spawn real processes, so keep parallelism modest.
    maxWorkers: 2,
    testTimeout: 30_000,
  },
});
