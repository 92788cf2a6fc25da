import { defineConfig } from 'vitest/config';

// One runner, several projects: Node unit and CLI tests here; the Workers-runtime tests and the
// browser tests add their own projects.
export default defineConfig({
  test: {
    projects: [
      // Workers-runtime tests (test/worker/**): their own config, since they need the Cloudflare plugin.
      'vitest.workers.config.ts',
      {
        test: {
          name: 'node',
          include: ['test/unit/**/*.test.ts', 'test/cli/**/*.test.ts'],
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        // The web app in Debian's Chromium against a local `wrangler dev` (test/browser/server.ts).
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 240_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
