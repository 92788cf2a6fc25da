/**
 * Big images in the web app (Chromium, WASM): a 2048×1536 photo translates through the tiled
 * generator and agrees with `stripes translate` on the same image; Cancel stops a translation
 * within a second, also when the worker is stuck inside a kernel; a worker that aborts is
 * restarted, says so in plain words, and the next image translates. The app is built with
 * VITE_STRIPES_TEST_HOOKS=1, which adds the test hook `window.__stripesTest` (production builds
 * drop it).
 *
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, encodePng, type RgbImage } from '../../cli/image-io.ts';
import { planTiles } from '../../shared/model/tiled.ts';
import { launchBrowser, type Browser } from './browser.ts';
import { bigPhoto } from './big-photo.ts';
import { browserWeightsAsCheckpoint, cliTranslate } from './reference.ts';
import { seededDemo } from './seed.ts';
import { startLocalServer, type LocalServer } from './server.ts';
import { translateOutput, translationCount, waitForTranslation } from './checks.ts';

let server: LocalServer;
let browser: Browser;
let tmp: string;
let model: string;
let slug: string;
let ngf: number;
let nBlocks: number;
const files: Record<string, string> = {};

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'stripes-tiles-test-'));
  process.env.VITE_STRIPES_TEST_HOOKS = '1';
  // The build is the slow part of starting on a busy machine.
  server = await startLocalServer({ timeoutMs: 540_000 });
  const demo = await seededDemo(server.url);
  slug = demo.slug;
  model = join(tmp, 'model');
  await browserWeightsAsCheckpoint(server.url, slug, model);
  const manifest = JSON.parse(await readFile(join(model, 'manifest.json'), 'utf8'));
  ({ ngf, nBlocks } = manifest.config.generator);
  for (const [name, w, h] of [['big', 2048, 1536], ['medium', 1200, 900], ['small', 61, 45]] as const) {
    files[name] = join(tmp, `${name}.png`);
    await writeFile(files[name], encodePng(bigPhoto(w, h, w)));
  }
  browser = await launchBrowser();
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/**
 * Opens the pair page on WASM at full size, with the pair's own generator (Best): the tests here
 * measure the tiled ResNet generator; test/browser/fast.test.ts translates a big photo with the student.
 */
async function openPair(): Promise<Page> {
  const page = await browser.context.newPage();
  await page.addInitScript(() => {
    localStorage.setItem('stripes.backend', 'wasm');
    localStorage.setItem('stripes.translateSize', 'full');
    localStorage.setItem('stripes.quality', 'full');
  });
  await page.goto(`${server.url}/pairs/${slug}`);
  await page.waitForSelector('[data-testid=translate-input]', { state: 'attached' });
  await page.waitForFunction(() => document.querySelector('[data-testid=translate-status]')?.textContent?.includes('Ready on'), null, { timeout: 120_000 });
  return page;
}


/** Picks a file and waits for its translation; throws the page's error if one shows. */
async function translate(page: Page, file: string, timeout = 180_000) {
  const before = await translationCount(page);
  await page.setInputFiles('[data-testid=translate-input]', file);
  await waitForTranslation(page, before, timeout, 200);
  const out = translateOutput(page);
  return {
    ms: Number(await out.getAttribute('data-ms')),
    tiles: Number(await out.getAttribute('data-tiles')),
    heap: Number(await out.getAttribute('data-heap')),
    size: await out.evaluate((c: HTMLCanvasElement) => [c.width, c.height]),
  };
}

/** The shown result, through the Download button: exactly the canvas's pixels, as a PNG. */
async function downloaded(page: Page): Promise<RgbImage> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=translate-download]')]);
  return decodeImage(new Uint8Array(await readFile((await download.path())!)), 'download');
}

/** Peak RSS (bytes) of this browser's renderer processes (the page and its workers), sampled until stopped. */
function sampleRendererRss(profile: string): { stop: () => number } {
  let peak = 0;
  const sample = () => {
    const ps = execFileSync('ps', ['-eo', 'pid=,ppid=,rss=,args='], { encoding: 'utf8', maxBuffer: 1 << 24 });
    const procs = ps.trim().split('\n').map((l) => {
      const m = l.trim().match(/^(\d+)\s+(\d+)\s+(\d+)\s+(.*)$/)!;
      return { pid: +m[1], ppid: +m[2], rss: +m[3] * 1024, args: m[4] };
    });
    const ours = new Set(procs.filter((p) => p.args.includes(`--user-data-dir=${profile}`) && !p.args.includes('--type=')).map((p) => p.pid));
    let grew = true;
    while (grew) {
      grew = false;
      for (const p of procs) if (!ours.has(p.pid) && ours.has(p.ppid)) (ours.add(p.pid), (grew = true));
    }
    for (const p of procs) if (ours.has(p.pid) && p.args.includes('--type=renderer')) peak = Math.max(peak, p.rss);
  };
  sample();
  const id = setInterval(sample, 250);
  return {
    stop: () => {
      clearInterval(id);
      sample();
      return peak;
    },
  };
}

const MiB = 2 ** 20;

describe('big images in the web app (WASM)', () => {
  it('translates a 2048×1536 photo in tiles, agreeing with stripes translate (≤ 2 levels off the seams, ≤ 4 on them)', async () => {
    const page = await openPair();
    const rss = sampleRendererRss(browser.profile);
    const got = await translate(page, files.big, 900_000);
    const peakRss = rss.stop();
    expect(got.size).toEqual([2048, 1536]);
    const plan = planTiles(2048, 1536, { ngf, nBlocks });
    expect(got.tiles).toBe(plan.tilesPerPass);
    expect(got.tiles).toBeGreaterThan(1);
    console.log(
      `2048×1536 on wasm: ${(got.ms / 1000).toFixed(1)} s, ${got.tiles} tiles of ${plan.tile} px a pass; wasm heap ${(got.heap / MiB).toFixed(0)} MiB; renderer peak RSS ${(peakRss / MiB).toFixed(0)} MiB`,
    );
    const shown = await downloaded(page);
    const want = await cliTranslate(model, files.big, 'AtoB', 900_000);
    // Seams: pixels within 8 of a tile boundary, where a halo or padding mistake would show.
    const near = (v: number, cuts: number[]) => cuts.slice(1, -1).some((c) => Math.abs(v - c) < 8);
    let seam = 0;
    let off = 0;
    for (let y = 0; y < 1536; y++)
      for (let x = 0; x < 2048; x++)
        for (let c = 0; c < 3; c++) {
          const i = (y * 2048 + x) * 3 + c;
          const d = Math.abs(shown.data[i] - want.data[i]);
          if (near(y, plan.rows) || near(x, plan.cols)) seam = Math.max(seam, d);
          else off = Math.max(off, d);
        }
    expect(off).toBeLessThanOrEqual(2);
    expect(seam).toBeLessThanOrEqual(4);
    // The tolerance is for float differences, not a blank or shifted picture.
    const src = decodeImage(new Uint8Array(await readFile(files.big)), files.big);
    let moved = 0;
    for (let i = 0; i < src.data.length; i++) moved = Math.max(moved, Math.abs(src.data[i] - shown.data[i]));
    expect(moved).toBeGreaterThan(50);
    await page.close();
  }, 1_200_000);

  it('Cancel stops a tiled translation within a second, and the next image translates', async () => {
    const page = await openPair();
    await page.setInputFiles('[data-testid=translate-input]', files.medium);
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=translate-busy]')?.getAttribute('data-done')) >= 2, null, { timeout: 180_000 });
    const stoppedIn = await page.evaluate(async () => {
      const t0 = performance.now();
      (document.querySelector('[data-testid=translate-cancel]') as HTMLButtonElement).click();
      while (document.querySelector('[data-testid=translate-busy]')) await new Promise((r) => setTimeout(r, 10));
      return performance.now() - t0;
    });
    expect(stoppedIn).toBeLessThan(1000);
    expect(await page.textContent('[data-testid=translate-status]')).toContain('Cancelled.');
    expect(await translationCount(page)).toBe(0);
    // The worker stops at the next tile boundary; a tile that takes longer than the grace time
    // (a loaded machine) gets the worker restarted instead. Either way, within a second.
    await page.waitForTimeout(1000);
    const restarts = await page.getAttribute('[data-testid=translate-status]', 'data-restarts');
    console.log(`cancel: the UI stopped in ${stoppedIn.toFixed(0)} ms; worker ${restarts === '0' ? 'stopped between tiles' : 'restarted (a tile outlasted the grace time)'}`);
    const small = await translate(page, files.small);
    expect(small.size).toEqual([61, 45]);
    await page.close();
  }, 600_000);

  it('Cancel stops a worker stuck inside a kernel within a second (it is restarted), and the next image translates', async () => {
    const page = await openPair();
    await page.evaluate(() => (window as any).__stripesTest.crashTranslator('hang'));
    await page.setInputFiles('[data-testid=translate-input]', files.medium);
    await page.waitForSelector('[data-testid=translate-busy]');
    await page.waitForTimeout(1500);
    const stoppedIn = await page.evaluate(async () => {
      const t0 = performance.now();
      (document.querySelector('[data-testid=translate-cancel]') as HTMLButtonElement).click();
      while (document.querySelector('[data-testid=translate-busy]')) await new Promise((r) => setTimeout(r, 10));
      return performance.now() - t0;
    });
    expect(stoppedIn).toBeLessThan(1000);
    // The stuck worker cannot take the cancel message: it is terminated (and replaced) within a second.
    const t0 = Date.now();
    await page.waitForFunction(() => document.querySelector('[data-testid=translate-status]')?.getAttribute('data-restarts') === '1', null, { timeout: 5000, polling: 20 });
    expect(Date.now() - t0).toBeLessThan(1000);
    const small = await translate(page, files.small);
    expect(small.size).toEqual([61, 45]);
    await page.close();
  }, 600_000);

  it('a new image dropped during a translation replaces it: only the new one is shown, with its own timing', async () => {
    const page = await openPair();
    await page.setInputFiles('[data-testid=translate-input]', files.medium);
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=translate-busy]')?.getAttribute('data-done')) >= 1, null, { timeout: 180_000 });
    const small = await translate(page, files.small);
    expect(small.size).toEqual([61, 45]);
    expect(small.tiles).toBe(1);
    // The first image's translation was dropped, not finished later over the second's.
    await page.waitForTimeout(2000);
    expect(await translationCount(page)).toBe(1);
    expect(await translateOutput(page).evaluate((c: HTMLCanvasElement) => [c.width, c.height])).toEqual([61, 45]);
    await page.close();
  }, 600_000);

  it('after a forced wasm abort the worker is restarted, the page says so plainly, and the next image translates', async () => {
    const page = await openPair();
    await page.evaluate(() => (window as any).__stripesTest.crashTranslator('abort'));
    await page.setInputFiles('[data-testid=translate-input]', files.medium);
    const error = await page.waitForSelector('[data-testid=translate-error]', { timeout: 180_000 });
    expect(await error.textContent()).toBe('The translator ran out of memory and was restarted; try Downscale.');
    expect(await translationCount(page)).toBe(0);
    const small = await translate(page, files.small);
    expect(small.size).toEqual([61, 45]);
    const shown = await downloaded(page);
    const want = await cliTranslate(model, files.small, 'AtoB');
    let worst = 0;
    for (let i = 0; i < want.data.length; i++) worst = Math.max(worst, Math.abs(shown.data[i] - want.data[i]));
    expect(worst).toBeLessThanOrEqual(2);
    // An uncaught error in the worker (an `error` event) is survived the same way.
    await page.evaluate(() => (window as any).__stripesTest.crashTranslator('throw-uncaught'));
    await page.waitForTimeout(500);
    const again = await translate(page, files.medium, 600_000);
    expect(again.size).toEqual([1200, 900]);
    await page.close();
    expect(browser.errors.filter((e) => !/forced by a test hook/.test(e))).toEqual([]);
  }, 900_000);

  it('downscales to the chosen size instead of translating at full size, and says so', async () => {
    const page = await openPair();
    await page.selectOption('[data-testid=translate-size]', '1024');
    const got = await translate(page, files.medium);
    expect(got.size).toEqual([1024, 768]);
    expect(await page.textContent('figure:has(canvas[aria-label^="Input image"]) figcaption')).toContain('1024×768 (downscaled from 1200×900)');
    // Back to full size: the same file is decoded again and translated at 1200×900.
    await page.selectOption('[data-testid=translate-size]', 'full');
    await page.waitForFunction(() => document.querySelector('[data-testid=translate-output]')?.getAttribute('data-count') === '2', null, { timeout: 600_000 });
    expect(await translateOutput(page).evaluate((c: HTMLCanvasElement) => [c.width, c.height])).toEqual([1200, 900]);
    await page.close();
  }, 900_000);
});
