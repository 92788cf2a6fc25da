/**
 * The web app as a person meets it, in Chromium against a local worker: a fresh pair started and
 * trained entirely in the browser (seeded version 1, held-out validation images, a contribution
 * that makes the next version, Stop that sends or discards), the rough edges of import, fork and
 * contribute, and every page at a phone's width (no sideways scrolling at 390 and 360 px) and on
 * a desktop, checked with axe-core and screenshotted into test-output/screenshots/.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePng } from '../../cli/image-io.ts';
import { ApiClient, createPair, createToken } from '../../cli/remote.ts';
import { api } from '../../shared/api/paths.ts';
import type { Pair } from '../../shared/api/pairs.ts';
import { mulberry32 } from '../../shared/model/init.ts';
import { roundPaths, type RoundStatus } from '../../shared/rounds/protocol.ts';
import { validateManifest } from '../../shared/weights/manifest.ts';
import { launchBrowser, type Browser } from './browser.ts';
import { axeViolations, DESKTOP, getJson, horizontalOverflow, PHONE, screenshot, SMALL_PHONE, writeImages } from './checks.ts';
import { addDemoSamples, seededDemo } from './seed.ts';
import { ROOT, startLocalServer, type LocalServer } from './server.ts';

const PHOTO = join(ROOT, 'test/fixtures/images/chelsea.png');
const FRESH = 'warm-and-cool';

let server: LocalServer;
let browser: Browser;
let tmp: string;
let DEMO: string;

/** A new tab. */
async function newPage(): Promise<Page> {
  return browser.context.newPage();
}

/**
 * The round has turned the contribution into a candidate version, and the quality gate has judged
 * it: current moves to it if it passed, and stays if it was rejected. Returns the current version.
 */
async function expectRoundJudged(slug: string, base: number): Promise<number> {
  let round = await getJson<RoundStatus>(server.url, roundPaths.round(slug));
  const decided = (r: RoundStatus) => r.state === 'idle' && r.history.some((h) => (h.kind === 'passed' || h.kind === 'gate_rejected') && h.version !== undefined && h.version > base);
  for (const t0 = Date.now(); !decided(round) && Date.now() - t0 < 120_000; await new Promise((r) => setTimeout(r, 500)))
    round = await getJson<RoundStatus>(server.url, roundPaths.round(slug));
  const verdict = [...round.history].reverse().find((h) => h.kind === 'passed' || h.kind === 'gate_rejected')!;
  expect(verdict, JSON.stringify(round.history)).toBeDefined();
  const candidate = round.history.find((h) => h.kind === 'aggregated' && h.version === verdict.version);
  expect(candidate).toBeDefined();
  const pair = await getJson<Pair>(server.url, api.pair(slug));
  expect(pair.currentVersion).toBe(verdict.kind === 'passed' ? verdict.version : base);
  return pair.currentVersion!;
}

/** Loads a page at a viewport and checks it fits sideways, is axe-clean, and screenshots it. */
async function checkPage(page: Page, name: string, size: { width: number; height: number }, ready: (p: Page) => Promise<unknown>) {
  await page.setViewportSize(size);
  await ready(page);
  await page.waitForTimeout(200);
  const { overflow, culprits } = await horizontalOverflow(page);
  expect(overflow, `${name} at ${size.width}px scrolls sideways: ${culprits.join('; ')}`).toBeLessThanOrEqual(0);
  if (size.width !== SMALL_PHONE.width) {
    const violations = await axeViolations(page);
    expect(violations, `${name} at ${size.width}px: ${JSON.stringify(violations, null, 1)}`).toEqual([]);
    await screenshot(page, name);
  }
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'stripes-pages-test-'));
  server = await startLocalServer();
  const demo = await seededDemo(server.url);
  DEMO = demo.slug;
  await addDemoSamples(server.url, server.stateDir, demo);
  browser = await launchBrowser();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('a fresh pair, started and trained in the browser', () => {
  it('creates the pair with seeded version 1, browser-sized rounds, a resized sample and held-out validation sets', async () => {
    const A = await writeImages(join(tmp, 'A'), [220, 120, 60], 1, 12);
    const B = await writeImages(join(tmp, 'B'), [60, 120, 220], 2, 12);
    // A 500×500 noise photo: about 750 KB as PNG, three times the sample limit.
    const rand = mulberry32(3);
    const big = join(tmp, 'big.png');
    await writeFile(big, encodePng({ width: 500, height: 500, data: Uint8Array.from({ length: 500 * 500 * 3 }, () => Math.floor(rand() * 256)) }));

    const page = await newPage();
    await page.goto(`${server.url}/create`);
    expect(await page.isChecked('input[type=radio][value=fresh]')).toBe(true);
    await page.check('input[type=radio][value=tiny]');
    await page.fill('#title', 'Warm and cool');
    await page.fill('#domainA', 'warm');
    await page.fill('#domainB', 'cool');
    await page.setInputFiles('[data-testid=sample-A]', big);
    // The first 8 of each domain are held out; a stray text file is refused by name at pick time.
    const notes = join(tmp, 'notes.txt');
    await writeFile(notes, 'not an image');
    await page.setInputFiles('[data-testid=validation-files-A]', [...A.slice(0, 8), notes]);
    await page.setInputFiles('[data-testid=validation-files-B]', B.slice(0, 7));
    expect(await page.textContent('[data-testid=validation-refused-A]')).toContain('notes.txt');
    expect(await page.getAttribute('[data-testid=validation-count-A]', 'data-count')).toBe('8');
    await page.click('button[type=submit]');
    expect(await (await page.waitForSelector('[data-testid=create-error]')).textContent()).toMatch(/^Hold out at least 8 validation images for domain B \(7 chosen\)/);
    await page.setInputFiles('[data-testid=validation-files-B]', B.slice(0, 8));
    await page.screenshot({ path: join(ROOT, 'test-output/screenshots/create-fresh.png'), fullPage: true });
    await page.click('button[type=submit]');
    await page.waitForURL(`${server.url}/pairs/${FRESH}?dir=a2b&v=1`, { timeout: 90_000 });

    const pair = await getJson<Pair>(server.url, api.pair(FRESH));
    expect(pair.currentVersion).toBe(1);
    const manifest = validateManifest((await getJson<{ manifest: unknown }>(server.url, api.current(FRESH))).manifest);
    expect(manifest.config.generator).toEqual({ ngf: 4, nBlocks: 2 });
    expect(Object.keys(manifest.groups).sort()).toEqual(['D_A', 'D_B', 'G_AB', 'G_BA']);
    const round = await getJson<RoundStatus>(server.url, roundPaths.round(FRESH));
    expect([round.config.train.steps, round.config.train.cropSize, round.config.quorum.min, round.config.quorum.max]).toEqual([20, 64, 1, 1]);
    // The sample was scaled down and re-encoded here, not refused.
    const sample = await fetch(new URL(pair.samples.A[0], server.url));
    const sampleBytes = new Uint8Array(await sample.arrayBuffer());
    expect(sampleBytes.byteLength).toBeLessThanOrEqual(256 * 1024);
    expect(jpeg.decode(sampleBytes).width).toBeLessThanOrEqual(640);
    // Two STRV sets of 8 images, 64×64 RGB.
    const token = await page.evaluate(() => localStorage.getItem('stripes.token'));
    for (const d of ['A', 'B']) {
      const res = await fetch(`${server.url}/api/pairs/${FRESH}/validation/${d}`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      const body = Buffer.from(await res.arrayBuffer());
      expect(body, `validation ${d}`).toBeDefined();
      expect(body.subarray(0, 4).toString('latin1')).toBe('STRV');
      expect([body.readUInt16LE(4), body.readUInt16LE(6), body.readUInt16LE(8), body.readUInt16LE(10)]).toEqual([1, 8, 64, 64]);
      expect(body.byteLength).toBe(12 + 8 * 64 * 64 * 3);
    }
    // The owner sees the validation panel on the pair page.
    await page.waitForSelector('[data-testid=validation-panel]');
    await page.close();
  });

  it('trains round 1 from the Contribute page: the default budget is the round\'s, held-out images are left out, and the round makes version 2', async () => {
    const page = await newPage();
    await page.goto(`${server.url}/pairs/${FRESH}`);
    await page.waitForSelector('[data-testid=round-summary]');
    await page.click('[data-testid=contribute-link]');
    await page.waitForSelector('[data-testid=contribute-privacy]');
    expect(await page.textContent('h1 + p')).toContain('round 1.');
    expect(await page.inputValue('[data-testid=contribute-budget]')).toBe('20');
    expect(await page.isDisabled('[data-testid=contribute-start]')).toBe(true);
    expect(await page.textContent('[data-testid=contribute-why]')).toContain('Choose images of warm and of cool first.');
    // The whole folder, with the 8 held-out images in it: they are left out.
    await page.setInputFiles('[data-testid=contribute-folder-A]', join(tmp, 'A'));
    expect(await page.getAttribute('[data-testid=contribute-count-A]', 'data-count')).toBe('4');
    expect(await page.textContent('[data-testid=contribute-count-A]')).toContain('8 held out for validation');
    expect(await page.textContent('[data-testid=contribute-why]')).toContain('Choose images of cool too');
    await page.setInputFiles('[data-testid=contribute-folder-B]', join(tmp, 'B'));
    await page.fill('[data-testid=contribute-budget]', '3');
    await page.click('[data-testid=contribute-start]');
    const result = await page.waitForSelector('[data-testid=contribute-result]', { timeout: 150_000 });
    const text = ((await result.textContent()) ?? '').replace(/\s+/g, ' ');
    expect(await result.getAttribute('data-accepted'), text).toBe('true');
    expect(text).toContain('Accepted: round 1');
    expect(text).toContain('3 steps on version 1');
    // Its base is untrained networks: the gate only asks for finite outputs, so it becomes version 2.
    expect(await expectRoundJudged(FRESH, 1)).toBe(2);
    await page.close();
  });

  it('stops a contribution: "send" contributes the steps done so far, "discard" sends nothing', { timeout: 400_000 }, async () => {
    const page = await newPage();
    await page.goto(`${server.url}/pairs/${FRESH}/contribute`);
    // A long round, so the stop, not K, ends it. The browser's token owns the pair.
    const token = await page.evaluate(() => localStorage.getItem('stripes.token'));
    const put = await fetch(server.url + roundPaths.config(FRESH), {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ train: { steps: 5000, cropSize: 32 } }),
    });
    expect(put.status).toBe(200);
    await page.reload();
    await page.setInputFiles('[data-testid=contribute-folder-A]', join(tmp, 'A'));
    await page.setInputFiles('[data-testid=contribute-folder-B]', join(tmp, 'B'));
    const stepNow = () => page.evaluate(() => Number(document.querySelector('[data-testid=contribute-stats]')?.getAttribute('data-step') ?? 0));
    // The stop-and-send button is enabled once this run has done a step (it is hidden between runs).
    const firstStep = () => page.waitForSelector('[data-testid=contribute-stop-upload]:not([disabled])', { timeout: 120_000 });

    await page.click('[data-testid=contribute-start]');
    await firstStep();
    await expect.poll(stepNow, { timeout: 120_000 }).toBeGreaterThanOrEqual(2);
    await page.click('[data-testid=contribute-stop-upload]');
    const sent = await page.waitForSelector('[data-testid=contribute-result]', { timeout: 120_000 });
    expect(await sent.getAttribute('data-accepted'), (await sent.textContent()) ?? '').toBe('true');
    const roundNo = Number(await sent.getAttribute('data-round'));
    let round = await getJson<RoundStatus>(server.url, roundPaths.round(FRESH));
    const mine = round.history.find((h) => h.kind === 'accepted' && h.round === roundNo)!;
    expect(mine.steps).toBeGreaterThanOrEqual(2);
    expect(mine.steps).toBeLessThan(5000);
    const afterSend = await expectRoundJudged(FRESH, 2);

    const before = await getJson<RoundStatus>(server.url, roundPaths.round(FRESH));
    await page.click('[data-testid=contribute-start]');
    await firstStep();
    await page.click('[data-testid=contribute-stop-discard]');
    const dropped = await page.waitForSelector('[data-testid=contribute-result][data-stopped=true]', { timeout: 120_000 });
    expect(await dropped.textContent()).toMatch(/^Stopped after \d+ steps?; they were discarded and nothing was uploaded\.$/);
    round = await getJson<RoundStatus>(server.url, roundPaths.round(FRESH));
    expect(round.history.filter((h) => h.kind === 'accepted')).toHaveLength(before.history.filter((h) => h.kind === 'accepted').length);
    expect((await getJson<Pair>(server.url, api.pair(FRESH))).currentVersion).toBe(afterSend);
    await page.close();
  });
});

describe('rough edges', () => {
  it('names a JPEG given as weights, links the reference, and offers only the imported direction', async () => {
    const page = await newPage();
    await page.goto(`${server.url}/create`);
    await page.check('input[type=radio][value=import]');
    await page.fill('#title', 'One way');
    await page.fill('#domainA', 'photo');
    await page.fill('#domainB', 'noise');
    expect(await page.getAttribute('[data-testid=import-howto] a[href*="download_cyclegan_model.sh"]', 'href')).toBe(
      'https://github.com/junyanz/pytorch-CycleGAN-and-pix2pix/blob/master/scripts/download_cyclegan_model.sh',
    );
    await page.setInputFiles('[data-testid=import-ab]', join(ROOT, 'test/fixtures/images/chelsea.jpg'));
    await page.click('button[type=submit]');
    expect(await (await page.waitForSelector('[data-testid=create-error]')).textContent()).toBe(
      'chelsea.jpg: this is not a safetensors file (it looks like a JPEG)',
    );
    await page.setInputFiles('[data-testid=import-ab]', join(ROOT, 'test/fixtures/torch-import/G_AB.f32.safetensors'));
    await page.click('button[type=submit]');
    await page.waitForURL(/\/pairs\/one-way/, { timeout: 60_000 });
    await page.waitForSelector('[data-testid=translate-direction]');
    expect(await page.$$eval('[data-testid=translate-direction] option', (o) => o.map((x) => (x as HTMLOptionElement).value))).toEqual(['AtoB']);
    await page.close();
  });

  it('forks with the title filled in, the parent\'s round settings and the lineage listed', async () => {
    const parent = await getJson<RoundStatus>(server.url, roundPaths.round(FRESH));
    const page = await newPage();
    await page.goto(`${server.url}/pairs/${FRESH}`);
    await page.click('text=Fork');
    await expect.poll(() => page.inputValue('#title')).toBe('Warm and cool (fork)');
    await page.click('button[type=submit]');
    await page.waitForURL(/\/pairs\/warm-and-cool-fork/);
    const fork = await getJson<Pair>(server.url, api.pair('warm-and-cool-fork'));
    expect(fork.forkedFrom).toEqual({ slug: FRESH, version: 3 });
    expect((await getJson<RoundStatus>(server.url, roundPaths.round('warm-and-cool-fork'))).config).toEqual(parent.config);
    const link = await page.waitForSelector(`[data-testid=lineage-parent][data-slug=${FRESH}]`);
    expect(await link.getAttribute('data-version')).toBe('3');
    expect(await link.textContent()).toContain('Warm and cool, version 3');
    await page.close();
  });

  it('composites a transparent image on white, carries the direction in the link, and shows keyboard focus on "choose a file"', async () => {
    const page = await newPage();
    await page.addInitScript(() => localStorage.setItem('stripes.backend', 'wasm'));
    await page.goto(`${server.url}/pairs/${DEMO}?dir=b2a`);
    await page.waitForSelector('[data-testid=translate-input]', { state: 'attached' });
    expect(await page.inputValue('[data-testid=translate-direction]')).toBe('BtoA');
    await expect.poll(() => page.inputValue('[data-testid=share-link]')).toBe(`${server.url}/pairs/${DEMO}?dir=b2a&v=1`);
    await page.selectOption('[data-testid=translate-direction]', 'AtoB');
    await expect.poll(() => page.inputValue('[data-testid=share-link]')).toBe(`${server.url}/pairs/${DEMO}?dir=a2b&v=1`);
    expect(new URL(page.url()).search).toBe('?dir=a2b&v=1');

    const png = new PNG({ width: 16, height: 16 });
    png.data.fill(0); // fully transparent black
    const clear = join(tmp, 'clear.png');
    await writeFile(clear, PNG.sync.write(png));
    await page.setInputFiles('[data-testid=translate-input]', clear);
    await expect.poll(() => page.getAttribute('[data-testid=translate-output]', 'data-count'), { timeout: 60_000 }).toBe('1');
    const corner = await page.$eval('canvas[aria-label^="Input image"]', (c) => [...(c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 1, 1).data]);
    expect(corner).toEqual([255, 255, 255, 255]);

    // Keyboard: Tab reaches the file input, and its visible words show the ring.
    await page.focus('[data-testid=translate-backend]');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.testid)).toBe('translate-input');
    expect(await page.$eval('label.pick', (l) => getComputedStyle(l).outlineStyle)).toBe('solid');
    await page.close();
  });
});

describe('every page on a phone and a desktop', () => {
  it('fits at 390 and 360 px without sideways scrolling, is axe-clean, and logged no error', async () => {
    // A pair with no weights, owned by someone else (the page offers no seeding, says who can).
    const { token } = await createToken(new ApiClient(server.url), 'pages test');
    await createPair(new ApiClient(server.url, token), { slug: 'no-weights-yet', title: 'No weights yet', domainA: 'day', domainB: 'night', description: '', licence: 'CC0-1.0' });
    const small = join(tmp, 'small.png');
    const photo = PNG.sync.read(await readFile(PHOTO));
    await writeFile(small, PNG.sync.write(photo));

    const pages: Array<[string, string, (p: Page) => Promise<unknown>]> = [
      ['gallery', '/', (p) => p.waitForSelector('[data-testid=pair-card] img')],
      ['create', '/create', (p) => p.waitForSelector('[data-testid=create-validation]')],
      ['create-import', '/create', async (p) => { await p.waitForSelector('[data-testid=create-form]'); await p.check('input[type=radio][value=import]'); }],
      ['create-fork', `/create?fork=${DEMO}`, (p) => p.waitForSelector('#source')],
      ['pair', `/pairs/${DEMO}`, async (p) => {
        await p.waitForSelector('[data-testid=translate-input]', { state: 'attached' });
        // Translated once; the result stays on the page while the viewport changes.
        if (Number(await p.getAttribute('[data-testid=translate-output]', 'data-count')) === 0) {
          await p.setInputFiles('[data-testid=translate-input]', small);
          await expect.poll(async () => Number(await p.getAttribute('[data-testid=translate-output]', 'data-count')), { timeout: 120_000 }).toBeGreaterThan(0);
        }
        await p.waitForSelector('[data-testid=version-chart], [data-testid=round-summary]');
        // The demo pair ships a fast variant: the Fast/Best switch is on the page.
        await p.waitForSelector('[data-testid=translate-quality]');
      }],
      ['pair-owner', `/pairs/${FRESH}`, async (p) => {
        await p.waitForSelector('[data-testid=validation-panel]');
        await p.waitForSelector('[data-testid=distill-panel]');
      }],
      ['pair-fork', '/pairs/warm-and-cool-fork', (p) => p.waitForSelector('[data-testid=lineage-parent]')],
      ['pair-no-weights', '/pairs/no-weights-yet', (p) => p.waitForSelector('[data-testid=seed-panel]')],
      ['contribute', `/pairs/${DEMO}/contribute`, (p) => p.waitForSelector('[data-testid=contribute-start]')],
      ['contribute-no-weights', '/pairs/no-weights-yet/contribute', (p) => p.waitForSelector('[data-testid=contribute-no-weights]')],
      ['not-found', '/nowhere', (p) => p.waitForSelector('text=Page not found')],
    ];
    const page = await newPage();
    await page.addInitScript(() => localStorage.setItem('stripes.backend', 'wasm'));
    // The gallery lists pairs with weights and pictures first, the empty pair (the newest) last.
    await page.goto(server.url);
    await page.waitForSelector('[data-testid=pair-card] img');
    const titles = await page.$$eval('[data-testid=pair-card] h2', (h) => h.map((x) => x.textContent));
    expect(titles.slice(0, 2).sort()).toEqual(['Summer ↔ winter (Battle for Wesnoth terrain)', 'Warm and cool']);
    expect(titles.at(-1)).toBe('No weights yet');
    for (const [name, path, ready] of pages) {
      await page.goto(server.url + path);
      for (const size of [PHONE, SMALL_PHONE, DESKTOP]) await checkPage(page, name, size, ready);
    }
    // At 1280×800 the translated result is in view once it arrives.
    await page.goto(`${server.url}/pairs/${DEMO}`);
    await page.setViewportSize(DESKTOP);
    await page.waitForSelector('[data-testid=translate-input]', { state: 'attached' });
    await page.setInputFiles('[data-testid=translate-input]', small);
    await expect.poll(() => page.getAttribute('[data-testid=translate-output]', 'data-count'), { timeout: 120_000 }).toBe('1');
    await expect
      // (within a pixel: layout is sub-pixel, scrolling is not)
      .poll(() => page.$eval('[data-testid=translate-output]', (c) => { const r = c.getBoundingClientRect(); return r.top >= -1 && r.bottom <= innerHeight + 1; }))
      .toBe(true);
    await page.close();
    expect(browser.errors).toEqual([]);
  }, 900_000);
});
