/**
 * The fast variant in the web app (Chromium, WASM; SwiftShader for the GPU backends): the
 * Fast/Best switch appears for a version with a distilled student, Fast is the default here and
 * says why, each setting agrees with `stripes translate --variant fast|full` on the same weights,
 * the pick is remembered and re-translates the image on the page; a big photo translates in
 * tiles with the student; and the owner distils in the browser, stops early, publishes, and the
 * new version carries `variants.fast` and translates with it.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, encodePng, type RgbImage } from '../../cli/image-io.ts';
import { ApiClient, createPair, createToken, pushCheckpoint } from '../../cli/remote.ts';
import { api } from '../../shared/api/paths.ts';
import type { Pair } from '../../shared/api/pairs.ts';
import { NETWORKS, presetConfig } from '../../shared/model/config.ts';
import { initValues } from '../../shared/model/init.ts';
import { fastStudentConfig } from '../../shared/model/student-config.ts';
import { planTiles } from '../../shared/model/tiled.ts';
import { specsOf } from '../../shared/train/cyclegan.ts';
import { encodeCheckpoint } from '../../shared/weights/checkpoint.ts';
import type { CheckpointManifest } from '../../shared/weights/format.ts';
import { validateManifest } from '../../shared/weights/manifest.ts';
import { bigPhoto } from './big-photo.ts';
import { launchBrowser, type Browser } from './browser.ts';
import { getJson, translateOutput, translationCount, waitForTranslation, writeImages } from './checks.ts';
import { browserWeightsAsCheckpoint, cliTranslate, maxLevelDiff, serverModel } from './reference.ts';
import { seededDemo } from './seed.ts';
import { ROOT, startLocalServer, type LocalServer } from './server.ts';

const PHOTO = join(ROOT, 'test/fixtures/images/chelsea.png');
const TINY = 'tiny-distil';

let server: LocalServer;
let browser: Browser;
let tmp: string;
/** The demo pair's generators as the browser sees them (float16 widened), for `--variant full`. */
let model: string;
let demo: Pair;
let owner: { token: string; id: string };
const files: Record<string, string> = {};
/**
 * A phone-sized photo for the student: big enough for a 2×2 tile grid at the default budget (the
 * student's tiles are ~1000 px). translate-tiles.test.ts covers 2048×1536 with the full generator.
 */
const [BIG_W, BIG_H] = [1600, 1200];

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'stripes-fast-test-'));
  server = await startLocalServer({ timeoutMs: 540_000 });
  demo = await seededDemo(server.url);
  model = join(tmp, 'model');
  await browserWeightsAsCheckpoint(server.url, demo.slug, model);
  for (const [name, w, h] of [['big', BIG_W, BIG_H], ['medium', 512, 384]] as const) {
    files[name] = join(tmp, `${name}.png`);
    await writeFile(files[name], encodePng(bigPhoto(w, h, w)));
  }
  // A tiny pair owned by a token this test hands the browser: version 1 has no fast variant.
  owner = await createToken(new ApiClient(server.url), 'fast test');
  const client = new ApiClient(server.url, owner.token);
  await createPair(client, { slug: TINY, title: 'Tiny distillation test', domainA: 'warm', domainB: 'cool', description: '', licence: 'CC0-1.0' });
  const config = presetConfig('tiny');
  const nets = Object.fromEntries(NETWORKS.map((net, i) => [net, Object.fromEntries(initValues(specsOf(config, net), 21 + i))]));
  const ckpt = await encodeCheckpoint(config, nets);
  await pushCheckpoint(client, TINY, { where: 'memory', manifest: ckpt.manifest, fetchShard: async (h) => ckpt.shards.get(h)! });
  browser = await launchBrowser();
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});


async function openPair(path: string, init?: () => void): Promise<Page> {
  const page = await browser.context.newPage();
  if (init) await page.addInitScript(init);
  await page.goto(server.url + path);
  await page.waitForSelector('[data-testid=translate-input]', { state: 'attached' });
  await page.waitForFunction(() => document.querySelector('[data-testid=translate-status]')?.textContent?.includes('Ready on'), null, { timeout: 120_000 });
  return page;
}

/** Waits for the output count to pass `before` and says what the page showed. */
async function resultAfter(page: Page, before: number, timeout = 180_000) {
  await waitForTranslation(page, before, timeout);
  const out = translateOutput(page);
  return {
    quality: await out.getAttribute('data-quality'),
    backend: await out.getAttribute('data-backend'),
    ms: Number(await out.getAttribute('data-ms')),
    tiles: Number(await out.getAttribute('data-tiles')),
    pixels: await out.evaluate((c: HTMLCanvasElement) => ({ width: c.width, height: c.height, data: Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data) })),
  };
}

async function translate(page: Page, file: string, timeout?: number) {
  const before = await translationCount(page);
  await page.setInputFiles('[data-testid=translate-input]', file);
  return resultAfter(page, before, timeout);
}

/** The page's pixels against the CLI's, within 2 levels, and visibly not the input. */
async function expectAgrees(got: { pixels: { width: number; height: number; data: number[] } }, want: RgbImage, file: string) {
  expect([got.pixels.width, got.pixels.height]).toEqual([want.width, want.height]);
  expect(maxLevelDiff(got.pixels.data, want)).toBeLessThanOrEqual(2);
  expect(maxLevelDiff(got.pixels.data, decodeImage(new Uint8Array(await readFile(file)), file))).toBeGreaterThan(50);
}

describe('the Fast/Best switch', () => {
  it('defaults to Fast on WASM and says why; Best gives the pair\'s own generator; the pick re-translates, is remembered, and can be undone', async () => {
    const page = await openPair(`/pairs/${demo.slug}`);
    const sw = page.locator('[data-testid=translate-quality]');
    expect(await sw.getAttribute('data-quality')).toBe('fast');
    expect(await page.textContent('[data-testid=quality-note]')).toContain('Chosen for you because no GPU is in use here (WebAssembly).');

    const fast = await translate(page, files.medium);
    expect([fast.quality, fast.backend]).toEqual(['fast', 'wasm']);
    expect(await page.textContent('[data-testid=translate-status]')).toContain('Fast on WebAssembly');
    await expectAgrees(fast, await cliTranslate(serverModel(server.url, demo.slug), files.medium, 'AtoB', 120_000, 'fast'), files.medium);

    // Best: the same image again, without picking it again, through the pair's generator.
    let before = await translationCount(page);
    await page.click('[data-testid=quality-full]');
    const full = await resultAfter(page, before);
    expect(full.quality).toBe('full');
    expect(await sw.getAttribute('data-quality')).toBe('full');
    expect(await page.textContent('[data-testid=quality-note]')).toContain('Your choice, kept on this device.');
    await expectAgrees(full, await cliTranslate(model, files.medium, 'AtoB'), files.medium);
    // Two different networks: the student imitates the generator, it does not reproduce it.
    expect(maxLevelDiff(full.pixels.data, { width: 512, height: 384, data: Uint8Array.from(fast.pixels.data.filter((_, i) => i % 4 !== 3)) })).toBeGreaterThan(2);

    // Back to Fast: the student is still loaded, the image is translated again.
    before = await translationCount(page);
    await page.click('[data-testid=quality-fast]');
    const again = await resultAfter(page, before);
    expect(again.quality).toBe('fast');
    console.log(`512×384 on wasm: fast ${fast.ms.toFixed(0)} ms (first on the page), full ${full.ms.toFixed(0)} ms, fast again ${again.ms.toFixed(0)} ms`);
    await page.click('[data-testid=quality-full]');
    await expect.poll(() => sw.getAttribute('data-quality')).toBe('full');

    // Remembered on the next visit; "Use the default" forgets it.
    await page.reload();
    await page.waitForSelector('[data-testid=translate-quality]');
    expect(await sw.getAttribute('data-quality')).toBe('full');
    await page.click('[data-testid=quality-reset]');
    expect(await sw.getAttribute('data-quality')).toBe('fast');
    expect(await page.evaluate(() => localStorage.getItem('stripes.quality'))).toBeNull();
    await page.close();
  }, 600_000);

  it('translates a 1600×1200 photo in tiles with the student, agreeing with stripes translate --variant fast (≤ 2 levels off the seams, ≤ 4 on them)', async () => {
    const page = await openPair(`/pairs/${demo.slug}`, () => localStorage.setItem('stripes.translateSize', 'full'));
    const got = await translate(page, files.big, 900_000);
    expect(got.quality).toBe('fast');
    const manifest = validateManifest((await getJson<{ manifest: unknown }>(server.url, api.current(demo.slug))).manifest);
    const plan = planTiles(BIG_W, BIG_H, manifest.variants!.fast!.config);
    expect(got.tiles).toBe(plan.tilesPerPass);
    expect(got.tiles).toBeGreaterThan(1);
    console.log(`${BIG_W}×${BIG_H} on wasm with the student: ${(got.ms / 1000).toFixed(1)} s, ${got.tiles} tiles of ${plan.tile} px a pass, ${plan.passes} passes`);
    const want = await cliTranslate(serverModel(server.url, demo.slug), files.big, 'AtoB', 900_000, 'fast');
    // Rows and columns within 8 px of an inner tile boundary count as seams.
    const seamMask = (n: number, cuts: number[]) => Array.from({ length: n }, (_, v) => cuts.slice(1, -1).some((c) => Math.abs(v - c) < 8));
    const seamRow = seamMask(BIG_H, plan.rows);
    const seamCol = seamMask(BIG_W, plan.cols);
    let seam = 0;
    let off = 0;
    for (let y = 0; y < BIG_H; y++)
      for (let x = 0; x < BIG_W; x++)
        for (let c = 0; c < 3; c++) {
          const d = Math.abs(got.pixels.data[(y * BIG_W + x) * 4 + c] - want.data[(y * BIG_W + x) * 3 + c]);
          if (seamRow[y] || seamCol[x]) seam = Math.max(seam, d);
          else off = Math.max(off, d);
        }
    expect(off).toBeLessThanOrEqual(2);
    expect(seam).toBeLessThanOrEqual(4);
    await page.close();
  }, 1_200_000);
});

describe('distilling in the browser', () => {
  it('the owner distils the pair, stops early, publishes; the new version carries variants.fast and translates with it; ?v=1 still opens the old one', async () => {
    const A = await writeImages(join(tmp, 'A'), [220, 120, 60], 1, 4);
    const B = await writeImages(join(tmp, 'B'), [60, 120, 220], 2, 4);
    const page = await openPair(`/pairs/${TINY}`, () => undefined);
    // Version 1 has no student: no switch, the pair's generator translates.
    expect(await page.locator('[data-testid=translate-quality]').count()).toBe(0);
    expect(await page.locator('[data-testid=distill-panel]').count()).toBe(0);
    // The owner's browser (this test's token) sees the distillation panel.
    await page.evaluate(({ token, id }) => (localStorage.setItem('stripes.token', token), localStorage.setItem('stripes.tokenId', id)), owner);
    await page.reload();
    await page.waitForSelector('[data-testid=distill-panel]');
    expect(await page.isDisabled('[data-testid=distill-start]')).toBe(true);
    await page.setInputFiles('[data-testid=distill-files-A]', A);
    await page.setInputFiles('[data-testid=distill-files-B]', B);
    await page.fill('[data-testid=distill-steps]', '500');
    await page.selectOption('[data-testid=distill-crop]', '64');
    await page.click('[data-testid=distill-start]');
    const stepsNow = () => page.evaluate(() => Number(document.querySelector('[data-testid=distill-panel]')?.getAttribute('data-steps')));
    await expect.poll(stepsNow, { timeout: 180_000 }).toBeGreaterThanOrEqual(3);
    expect(await page.textContent('[data-testid=distill-progress]')).toMatch(/Step \d+ of 500 · L1 \d\.\d{3} \/ \d\.\d{3}/);
    await page.waitForSelector('[data-testid=distill-loss-chart]');
    await page.click('[data-testid=distill-stop]');
    await page.waitForSelector('[data-testid=distill-panel][data-phase=trained]', { timeout: 120_000 });
    const steps = await stepsNow();
    expect(steps).toBeGreaterThanOrEqual(3);
    expect(steps).toBeLessThan(500);
    await page.click('[data-testid=distill-publish]');
    const done = await page.waitForSelector('[data-testid=distill-published]', { timeout: 120_000 });
    expect(await done.textContent()).toBe('Published version 2 with the fast variant.');

    // The server's version 2: version 1's networks, byte for byte, plus the students.
    const v1 = validateManifest((await getJson<{ manifest: unknown }>(server.url, api.version(TINY, 1))).manifest);
    const v2 = validateManifest((await getJson<{ manifest: unknown }>(server.url, api.current(TINY))).manifest) as CheckpointManifest;
    expect((await getJson<Pair>(server.url, api.pair(TINY))).currentVersion).toBe(2);
    expect(v2.groups).toEqual(v1.groups);
    expect(v2.variants?.fast?.config).toEqual(fastStudentConfig(v1.config.generator));
    expect(Object.keys(v2.variants!.fast!.groups).sort()).toEqual(['G_AB', 'G_BA']);

    // The page moved to version 2: the switch is there, Fast by default, and it agrees with the CLI.
    await page.waitForSelector('[data-testid=translate-quality]', { timeout: 60_000 });
    await expect.poll(() => page.inputValue('[data-testid=share-link]')).toBe(`${server.url}/pairs/${TINY}?dir=a2b&v=2`);
    const fast = await translate(page, PHOTO);
    expect(fast.quality).toBe('fast');
    await expectAgrees(fast, await cliTranslate(serverModel(server.url, TINY, 2), PHOTO, 'AtoB', 120_000, 'fast'), PHOTO);
    await page.close();

    // A link to version 1 still opens version 1: no student, the generator translates.
    const old = await openPair(`/pairs/${TINY}?v=1`);
    await old.waitForSelector('[data-testid=older-version]');
    expect(await old.locator('[data-testid=translate-quality]').count()).toBe(0);
    const full = await translate(old, PHOTO);
    expect(full.quality).toBe('full');
    await old.close();
    expect(browser.errors).toEqual([]);
  }, 900_000);
});
