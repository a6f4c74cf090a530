import { defineConfig } from 'vitest/config';

/** Runs after the suite (npm test): checks every log line it produced for every secret it created. */
export default defineConfig({ test: { include: ['test/secrets/**/*.test.ts'] } });
