/**
 * The web app end to end in Debian's Chromium against a local worker: on-device translation on
 * every backend the browser offers agrees with `stripes translate` on the same weights (the
 * distilled student, Fast, by default here: WASM and SwiftShader; the pair's generator, Best, when
 * picked), weights come from the Cache Storage on a second visit, and every page renders without
 * console errors.
 */
import { spawnSync } from 'node:child_process';
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
import { browserWeightsAsCheckpoint, cliTranslate, maxLevelDiff, serverModel } from './reference.ts';
import { addDemoSamples, seededDemo } from './seed.ts';
import { ROOT, startLocalServer, type LocalServer } from './server.ts';
import { translateOutput, translationCount, waitForTranslation } from './checks.ts';

const SCREENSHOTS = join(ROOT, 'test-output/screenshots');
/** A real photo, 70×47: neither side a multiple of 4, so padding and crop are exercised. */
const PHOTO = join(ROOT, 'test/fixtures/images/chelsea.png');

let server: LocalServer;
/** The slug of the demo pair `npm start` seeded. */
let DEMO_SLUG: string;
let browser: Browser;
let tmp: string;
let model: string;
let smallPhoto: string;
/** Shard requests that reached the network, in order. */
const shardRequests: string[] = [];

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'stripes-web-test-'));
  server = await startLocalServer();
  const demo = await seededDemo(server.url);
  DEMO_SLUG = demo.slug;
  await addDemoSamples(server.url, server.stateDir, demo);
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
  const out = translateOutput(page);
  const before = await translationCount(page);
  await page.selectOption('[data-testid=translate-direction]', direction);
  await page.setInputFiles('[data-testid=translate-input]', file);
  await waitForTranslation(page, before, 150_000);
  const pixels = await out.evaluate((c: HTMLCanvasElement) => ({
    width: c.width,
    height: c.height,
    data: Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data),
  }));
  return {
    ...pixels,
    backend: await out.getAttribute('data-backend'),
    quality: (await out.getAttribute('data-quality')) as 'fast' | 'full',
    ms: Number(await out.getAttribute('data-ms')),
    tensors: Number(await out.getAttribute('data-tensors')),
  };
}

/** The page's result against `stripes translate` with the generator the page says it used. */
async function expectMatchesCli(got: { width: number; height: number; data: number[]; quality: 'fast' | 'full' }, file: string, direction: Direction) {
  const want =
    got.quality === 'fast'
      ? await cliTranslate(serverModel(server.url, DEMO_SLUG), file, direction, 120_000, 'fast')
      : await cliTranslate(model, file, direction);
  expect([got.width, got.height]).toEqual([want.width, want.height]);
  expect(maxLevelDiff(got.data, want)).toBeLessThanOrEqual(2);
  // The tolerance covers rounding and float differences, not a blank or shifted picture.
  const src = decodeImage(new Uint8Array(await readFile(file)), file);
  expect(maxLevelDiff(got.data, src)).toBeGreaterThan(50);
}

describe('web app in Chromium', () => {
  it('translates on the first backend that starts (WASM here: SwiftShader WebGPU/WebGL are software, which auto skips) with the fast variant, as stripes translate --variant fast does, fetching only the student', async () => {
    const page = await openPair();
    const got = await translate(page, smallPhoto, 'AtoB');
    expect(got.backend).toBe('wasm');
    expect(got.quality).toBe('fast');
    await expectMatchesCli(got, smallPhoto, 'AtoB');
    const manifest = validateManifest((await (await fetch(server.url + api.current(DEMO_SLUG))).json()).manifest);
    const want = manifest.variants!.fast!.groups.G_AB!.paths.map((h) => server.url + api.shard(h));
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

  it('translates with WebGPU forced (B→A; SwiftShader renders in software, so Fast is the default) and with WebGL forced (Best picked)', async () => {
    const gpu = await openPair('webgpu');
    const ba = await translate(gpu, smallPhoto, 'BtoA');
    expect(ba.backend).toBe('webgpu');
    expect(ba.quality).toBe('fast');
    expect(await gpu.textContent('[data-testid=quality-note]')).toContain('Chosen for you because the GPU here renders in software.');
    await expectMatchesCli(ba, smallPhoto, 'BtoA');
    await gpu.close();
    const gl = await openPair('webgl');
    await gl.click('[data-testid=quality-full]');
    const ab = await translate(gl, smallPhoto, 'AtoB');
    expect(ab.backend).toBe('webgl');
    expect(ab.quality).toBe('full');
    await expectMatchesCli(ab, smallPhoto, 'AtoB');
    // The pick is kept for the next visit: back to the default for the tests after this one.
    await gl.click('[data-testid=quality-reset]');
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

  it('creates a pair from official PyTorch weights converted in the browser, to the same checkpoint as stripes import-torch', async () => {
    const weights = join(ROOT, 'test/fixtures/torch-import');
    const page = await browser.context.newPage();
    await page.goto(`${server.url}/create`);
    await page.check('input[type=radio][value=import]');
    await page.fill('#title', 'Imported pair');
    await page.fill('#domainA', 'photo');
    await page.fill('#domainB', 'noise');
    await page.setInputFiles('[data-testid=import-ab]', join(weights, 'G_AB.f32.safetensors'));
    await page.setInputFiles('[data-testid=import-ba]', join(weights, 'G_BA.f16.safetensors'));
    await page.screenshot({ path: join(SCREENSHOTS, 'create-import.png'), fullPage: true });
    await page.click('button[type=submit]');
    await page.waitForURL(`${server.url}/pairs/imported-pair`, { timeout: 60_000 });
    await page.waitForSelector('[data-testid=translate-input]', { state: 'attached' });
    const served = validateManifest((await (await fetch(server.url + api.current('imported-pair'))).json()).manifest);
    const out = join(tmp, 'imported');
    const r = spawnSync(process.execPath, ['cli/bin.mjs', 'import-torch', join(weights, 'G_AB.f32.safetensors'), join(weights, 'G_BA.f16.safetensors'), '--out', out], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const cli = validateManifest(JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')));
    // Shards are named by their bytes: equal groups mean byte-identical weights.
    expect(served.config).toEqual(cli.config);
    expect(served.groups).toEqual(cli.groups);
    expect(served.variants).toEqual(cli.variants);
    await page.close();
  });

  it('refuses a file that is not safetensors with a one-line error, before creating anything', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${server.url}/create`);
    await page.check('input[type=radio][value=import]');
    await page.fill('#title', 'Bad import');
    await page.fill('#domainA', 'a');
    await page.fill('#domainB', 'b');
    await page.setInputFiles('[data-testid=import-ab]', PHOTO);
    await page.click('button[type=submit]');
    const error = await page.waitForSelector('[data-testid=create-error]');
    expect(await error.textContent()).toBe('chelsea.png: this is not a safetensors file (it looks like a PNG)');
    expect((await fetch(server.url + api.pair('bad-import'))).status).toBe(404);
    await page.close();
  });

  it('says plainly when a picked file is not an image, and keeps the page usable', async () => {
    const page = await openPair('wasm');
    await page.setInputFiles('[data-testid=translate-input]', join(ROOT, 'test/fixtures/torch-import/G_AB.f32.safetensors'));
    const error = await page.waitForSelector('[data-testid=translate-error]');
    expect(await error.textContent()).toContain('could not be read as an image');
    const ok = await translate(page, smallPhoto, 'AtoB');
    expect(ok.width).toBe(38);
    await page.close();
  });

  it('takes an image dropped on the page or pasted into it', async () => {
    const page = await openPair('wasm');
    const bytes = [...(await readFile(smallPhoto))];
    const out = page.locator('[data-testid=translate-output]');
    for (const how of ['drop', 'paste'] as const) {
      const before = Number(await out.getAttribute('data-count'));
      await page.evaluate(
        ({ bytes, how }) => {
          const dt = new DataTransfer();
          dt.items.add(new File([new Uint8Array(bytes)], 'photo.png', { type: 'image/png' }));
          const ev =
            how === 'drop'
              ? new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true })
              : new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true });
          (how === 'drop' ? document.querySelector('[aria-label="Image drop zone"]')! : document.body).dispatchEvent(ev);
        },
        { bytes, how },
      );
      await expect.poll(async () => Number(await out.getAttribute('data-count')), { timeout: 60_000 }).toBe(before + 1);
      expect(await out.evaluate((c: HTMLCanvasElement) => [c.width, c.height])).toEqual([38, 29]);
    }
    await page.close();
  });

  it('takes a camera snapshot where the browser has a camera', async () => {
    // Chromium's fake camera (a generated test pattern) with the permission prompt answered yes.
    const cam = await launchBrowser(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream']);
    try {
      await cam.context.addInitScript(() => localStorage.setItem('stripes.backend', 'wasm'));
      const page = await cam.newPage();
      await page.goto(pairUrl());
      // The app is cross-origin isolated (for wasm threads); the camera must work all the same.
      expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
      await page.click('[data-testid=camera-open]');
      await page.waitForFunction(() => (document.querySelector('video')?.videoWidth ?? 0) > 0);
      const size = await page.evaluate(() => [document.querySelector('video')!.videoWidth, document.querySelector('video')!.videoHeight]);
      await page.click('[data-testid=camera-snap]');
      const out = page.locator('[data-testid=translate-output]');
      await expect.poll(async () => Number(await out.getAttribute('data-count')), { timeout: 120_000 }).toBe(1);
      expect(await out.evaluate((c: HTMLCanvasElement) => [c.width, c.height])).toEqual(size);
      expect(cam.errors).toEqual([]);
    } finally {
      await cam.close();
    }
  });

  it('forks a pair from its page', async () => {
    const page = await browser.context.newPage();
    await page.goto(pairUrl());
    await page.click('text=Fork');
    await expect.poll(() => page.url()).toBe(`${server.url}/create?fork=${DEMO_SLUG}`);
    await page.fill('#title', 'Demo fork');
    await page.click('button[type=submit]');
    await page.waitForURL(`${server.url}/pairs/demo-fork`);
    await page.waitForSelector(`a[href="/pairs/${DEMO_SLUG}"]`);
    await page.close();
  });

  it('renders the gallery and the create page, and no page logged an error', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${server.url}/`);
    await page.waitForSelector('[data-testid=pair-card]');
    expect(await page.locator('[data-testid=pair-card]').count()).toBe(3);
    await page.fill('[data-testid=gallery-filter]', 'no such pair');
    await page.waitForSelector('text=No pair matches');
    await page.fill('[data-testid=gallery-filter]', 'imported');
    await expect.poll(() => page.locator('[data-testid=pair-card]').count()).toBe(1);
    await page.fill('[data-testid=gallery-filter]', '');
    await expect.poll(() => page.locator('[data-testid=pair-card]').count()).toBe(3);
    // The demo card shows its before/after samples.
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
