// The soak suite (npm run test:soak): real-length waits and API server restarts with the dist action on a
// cluster of its own. Kept out of vitest.config.ts so `vitest run` and `npm test` never pick it up.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'soak',
    include: ['test/soak/**/*.test.ts'],
    environment: 'node',
    fileParallelism: false,
    testTimeout: 60 * 60_000,
    hookTimeout: 50 * 60_000,
  },
});
