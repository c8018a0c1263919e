import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/slow runs only with PATCHGATE_SLOW=1 (npm run test:slow)
    exclude: process.env.PATCHGATE_SLOW ? ['node_modules/**'] : ['test/slow/**', 'node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
