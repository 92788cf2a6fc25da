/**
 * The Workers-runtime test project: test/worker/** runs inside workerd with the bindings from
 * wrangler.toml (local R2, D1, Durable Objects), plus the D1 migrations as a test-only binding
 * so each test file starts from the real schema.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';
import { headersFile } from './worker/security-headers.ts';

// wrangler.toml names web/dist as the assets directory; the API tests do not need the web app,
// but the directory must exist for the config to load.
if (!existsSync('web/dist/index.html')) {
  mkdirSync('web/dist', { recursive: true });
  writeFileSync('web/dist/index.html', '<!doctype html><title>Stripes</title><p>The web app is not built yet.</p>\n');
}
// The static assets' security headers, as the web build writes them (test/worker/headers.test.ts).
if (!existsSync('web/dist/_headers') || readFileSync('web/dist/_headers', 'utf8') !== headersFile()) writeFileSync('web/dist/_headers', headersFile());

export default defineConfig(async () => ({
  plugins: [
    cloudflareTest({
      main: './worker/index.ts',
      wrangler: { configPath: './wrangler.toml' },
      miniflare: {
        bindings: {
          TEST_MIGRATIONS: await readD1Migrations('migrations'),
          TOKEN_SECRET: 'test-secret-0123456789abcdef0123456789abcdef',
          WRITES_PER_MINUTE: '40',
          TOKENS_PER_HOUR: '1000',
        },
      },
    }),
  ],
  test: {
    name: 'worker',
    include: ['test/worker/**/*.test.ts'],
    setupFiles: ['test/worker/setup.ts'],
    // The suite shares 2 cores with the Node and browser projects: give each request room.
    testTimeout: 30_000,
  },
}));
