/**
 * The edge must always build for the real platform, and stay small: `wrangler deploy --dry-run`
 * bundles the worker exactly as a deploy would, and the bundle must be under 1 MB gzipped (the
 * worker does plain typed-array math; TF.js never belongs in it).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;
const out = mkdtempSync(join(tmpdir(), 'stripes-bundle-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it('bundles for Cloudflare under 1 MB gzipped, without TF.js', () => {
  // wrangler.toml names web/dist as the assets folder; it must exist even before the web app is built.
  if (!existsSync(join(ROOT, 'web/dist/index.html'))) {
    mkdirSync(join(ROOT, 'web/dist'), { recursive: true });
    writeFileSync(join(ROOT, 'web/dist/index.html'), '<!doctype html><title>Stripes</title>\n');
  }
  const r = spawnSync(join(ROOT, 'node_modules/.bin/wrangler'), ['deploy', '--dry-run', '--outdir', out], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', WRANGLER_HIDE_BANNER: 'true', CI: 'true' },
    timeout: 120_000,
  });
  expect(r.status, r.stderr + r.stdout).toBe(0);
  const bundle = readFileSync(join(out, 'index.js'));
  const gz = gzipSync(bundle, { level: 9 }).byteLength;
  console.log(`worker bundle: ${(bundle.byteLength / 1024).toFixed(1)} KiB, ${(gz / 1024).toFixed(1)} KiB gzipped`);
  expect(gz).toBeLessThan(1_000_000);
  const text = bundle.toString('utf8');
  expect(text).not.toMatch(/@tensorflow\/tfjs|registerKernel\(/);
  // The exports Cloudflare needs: the fetch handler and the round's Durable Object class.
  expect(text).toMatch(/PairRound/);
});
