import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The secrets check reads what the whole suite left behind, so it runs after it (npm test).
    exclude: ['test/secrets/**', 'node_modules/**'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // e2e files each start their own moto and countersign; two at a time fits 2 cores.
    maxWorkers: 2,
  },
});
