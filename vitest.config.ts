import { defineConfig } from 'vitest/config';

// One runner, several projects: Node unit and CLI tests here; the Workers-runtime tests and the
// browser tests add their own projects.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          include: ['test/unit/**/*.test.ts', 'test/cli/**/*.test.ts'],
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
