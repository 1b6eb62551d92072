import { defineConfig } from 'vitest/config';

// e2e files boot real hosts; they run one file at a time so two labs never fight over 2 cores,
// and their hooks get time for a cold image build.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 900_000,
    reporters: process.env.CI === 'true' ? ['verbose'] : ['default'],
  },
});
