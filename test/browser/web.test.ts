/**
 * The web app end to end in Debian's Chromium against a local worker: on-device translation on
 * every backend the browser offers agrees with `stripes translate` on the same weights, weights
 * come from the Cache Storage on a second visit, and every page renders without console errors.
 */
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, encodePng } from '../../cli/image-io.ts';
import type { Direction } from '../../shared/model/config.ts';
import { validateManifest } from '../../shared/weights/manifest.ts';
import { api } from '../../shared/api/paths.ts';
import { launchBrowser, type Browser } from './browser.ts';
import { browserWeightsAsCheckpoint, cliTranslate, maxLevelDiff } from './reference.ts';
import { addDemoSamples, DEMO_SLUG } from './seed.ts';
import { ROOT, startLocalServer, type LocalServer } from './server.ts';

const SCREENSHOTS = join(ROOT, 'test-output/screenshots');
/** A real photo, 70×47: neither side a multiple of 4, so padding and crop are exercised. */
const PHOTO = join(ROOT, 'test/fixtures/images/chelsea.png');

let server: LocalServer;
let browser: Browser;
let tmp: string;
let model: string;
let smallPhoto: string;
/** Shard requests that reached the network, in order. */
const shardRequests: string[] = [];

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'stripes-web-test-'));
  server = await startLocalServer();
  await addDemoSamples(server.url, server.stateDir);
  model = join(tmp, 'model');
  await browserWeightsAsCheckpoint(server.url, DEMO_SLUG, model);
  // SwiftShader's WebGPU and WebGL are correct but slow: the GPU backends get a 38×29 crop.
  const photo = decodeImage(new Uint8Array(await readFile(PHOTO)), PHOTO);
  const [w, h] = [38, 29];
  const crop = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) crop.set(photo.data.subarray((y + 9) * photo.width * 3 + 16 * 3, (y + 9) * photo.width * 3 + (16 + w) * 3), y * w * 3);
  smallPhoto = join(tmp, 'small.png');
  await writeFile(smallPhoto, encodePng({ width: w, height: h, data: crop }));
  await mkdir(SCREENSHOTS, { recursive: true });
  browser = await launchBrowser();
  browser.context.on('request', (r) => {
    if (new URL(r.url()).pathname.startsWith('/api/shards/')) shardRequests.push(r.url());
  });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const pairUrl = () => `${server.url}/pairs/${DEMO_SLUG}`;

/** Opens the pair page in a new tab (a new translator worker), optionally forcing a backend. */
async function openPair(backend?: string): Promise<Page> {
  const page = await browser.context.newPage();
  await page.goto(pairUrl());
  await page.waitForSelector('[data-testid=translate-input]', { state: 'attached' });
  if (backend) await page.selectOption('[data-testid=translate-backend]', backend);
  return page;
}

/** Translates a file on the page and returns the output canvas's RGBA pixels and what ran. */
async function translate(page: Page, file: string, direction: Direction) {
  const out = page.locator('[data-testid=translate-output]');
  const before = Number(await out.getAttribute('data-count'));
  await page.selectOption('[data-testid=translate-direction]', direction);
  await page.setInputFiles('[data-testid=translate-input]', file);
  await page.waitForFunction(
    (n) => {
      const err = document.querySelector('[data-testid=translate-error]');
      if (err) throw new Error(err.textContent ?? 'translate error');
      return Number(document.querySelector('[data-testid=translate-output]')?.getAttribute('data-count')) > n;
    },
    before,
    { timeout: 150_000, polling: 100 },
  );
  const pixels = await out.evaluate((c: HTMLCanvasElement) => ({
    width: c.width,
    height: c.height,
    data: Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data),
  }));
  return {
    ...pixels,
    backend: await out.getAttribute('data-backend'),
    ms: Number(await out.getAttribute('data-ms')),
    tensors: Number(await out.getAttribute('data-tensors')),
  };
}

async function expectMatchesCli(got: { width: number; height: number; data: number[] }, file: string, direction: Direction) {
  const want = await cliTranslate(model, file, direction);
  expect([got.width, got.height]).toEqual([want.width, want.height]);
  expect(maxLevelDiff(got.data, want)).toBeLessThanOrEqual(2);
  // The tolerance covers rounding and float differences, not a blank or shifted picture.
  const src = decodeImage(new Uint8Array(await readFile(file)), file);
  expect(maxLevelDiff(got.data, src)).toBeGreaterThan(50);
}

describe('web app in Chromium', () => {
  it('translates on the first backend that starts (WebGPU here), as stripes translate does, fetching only the float16 generator', async () => {
    const page = await openPair();
    const got = await translate(page, smallPhoto, 'AtoB');
    expect(got.backend).toBe('webgpu');
    await expectMatchesCli(got, smallPhoto, 'AtoB');
    const manifest = validateManifest((await (await fetch(server.url + api.current(DEMO_SLUG))).json()).manifest);
    const want = manifest.variants!.float16!.G_AB!.paths.map((h) => server.url + api.shard(h));
    expect([...shardRequests].sort()).toEqual([...want].sort());
    await page.screenshot({ path: join(SCREENSHOTS, 'pair.png'), fullPage: true });
    await page.close();
  });

  it('translates with WASM forced, both directions, with no tensor left behind', async () => {
    const page = await openPair('wasm');
    const ab = await translate(page, PHOTO, 'AtoB');
    expect(ab.backend).toBe('wasm');
    await expectMatchesCli(ab, PHOTO, 'AtoB');
    const ba = await translate(page, PHOTO, 'BtoA');
    await expectMatchesCli(ba, PHOTO, 'BtoA');
    // The download button saves the canvas as a PNG with exactly the shown pixels.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=translate-download]')]);
    const saved = decodeImage(new Uint8Array(await readFile((await download.path())!)), 'download');
    expect([saved.width, saved.height]).toEqual([70, 47]);
    expect(maxLevelDiff(ba.data, saved)).toBe(0);
    // Same size again: the tensors alive afterwards (the two generators' weights) must not grow.
    const again = await translate(page, smallPhoto, 'BtoA');
    const third = await translate(page, smallPhoto, 'AtoB');
    expect(third.tensors).toBe(again.tensors);
    expect(third.tensors).toBe(ba.tensors);
    await page.close();
  });

  it('translates with WebGPU forced (B→A) and with WebGL forced', async () => {
    const gpu = await openPair('webgpu');
    const ba = await translate(gpu, smallPhoto, 'BtoA');
    expect(ba.backend).toBe('webgpu');
    await expectMatchesCli(ba, smallPhoto, 'BtoA');
    await gpu.close();
    const gl = await openPair('webgl');
    const ab = await translate(gl, smallPhoto, 'AtoB');
    expect(ab.backend).toBe('webgl');
    await expectMatchesCli(ab, smallPhoto, 'AtoB');
    await gl.close();
  });

  it('downloads no shard on a second visit: the weights come from the Cache Storage', async () => {
    expect(shardRequests.length).toBeGreaterThan(0);
    const before = shardRequests.length;
    const page = await openPair('wasm');
    await page.reload();
    await page.waitForSelector('[data-testid=translate-input]', { state: 'attached' });
    await translate(page, smallPhoto, 'AtoB');
    await translate(page, smallPhoto, 'BtoA');
    expect(shardRequests.length).toBe(before);
    await expect.poll(() => page.textContent('[data-testid=translate-status]')).toContain('nothing downloaded');
    await page.close();
  });

  it('renders the gallery and the create page, and no page logged an error', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${server.url}/`);
    await page.waitForSelector('[data-testid=pair-card]');
    expect(await page.locator('[data-testid=pair-card]').count()).toBe(1);
    await page.fill('[data-testid=gallery-filter]', 'no such pair');
    await page.waitForSelector('text=No pair matches');
    await page.fill('[data-testid=gallery-filter]', 'demo');
    await page.waitForSelector('[data-testid=pair-card]');
    // The card shows the pair's before/after samples.
    await page.waitForFunction(() => {
      const imgs = [...document.querySelectorAll<HTMLImageElement>('[data-testid=pair-card] img')];
      return imgs.length === 2 && imgs.every((i) => i.complete && i.naturalWidth > 0);
    });
    await page.screenshot({ path: join(SCREENSHOTS, 'gallery.png'), fullPage: true });
    // The app's own links navigate without a reload.
    await page.click('header >> text=Create a pair');
    await expect.poll(() => new URL(page.url()).pathname).toBe('/create');
    await page.waitForSelector('[data-testid=create-form]');
    await page.screenshot({ path: join(SCREENSHOTS, 'create.png'), fullPage: true });
    await page.close();
    expect(browser.errors).toEqual([]);
  });
});
