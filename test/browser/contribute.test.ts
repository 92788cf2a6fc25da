/**
 * Contributing from the browser end to end: on a fresh tiny pair whose round closes at one
 * contribution, the Contribute page trains on images picked from the disk (files for A, a folder
 * for B) in its Web Worker, uploads the float16 delta with the shared contributor client, the
 * round accepts it, and the pair's version advances; the pair page then shows the round and the
 * curve over versions. No console errors; screenshots for review.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, createPair, createToken, pushCheckpoint } from '../../cli/remote.ts';
import { api } from '../../shared/api/paths.ts';
import type { Pair } from '../../shared/api/pairs.ts';
import { NETWORKS, presetConfig } from '../../shared/model/config.ts';
import { initValues, mulberry32 } from '../../shared/model/index.ts';
import { roundPaths, type RoundStatus } from '../../shared/rounds/protocol.ts';
import { specsOf } from '../../shared/train/cyclegan.ts';
import { encodeCheckpoint } from '../../shared/weights/checkpoint.ts';
import { encodeValidationSet } from '../../shared/gate/validation-set.ts';
import { launchBrowser, type Browser } from './browser.ts';
import { getJson, writeImages } from './checks.ts';
import { ROOT, startLocalServer, type LocalServer } from './server.ts';

const SCREENSHOTS = join(ROOT, 'test-output/screenshots');
const SLUG = 'tiny-contrib';

let server: LocalServer;
let browser: Browser;
let tmp: string;
/** The test pair's owner, who may change its round settings. */
let ownerToken: string;

async function configureRound(patch: object): Promise<void> {
  const r = await fetch(server.url + roundPaths.config(SLUG), {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ownerToken}` },
    body: JSON.stringify(patch),
  });
  if (!r.ok) throw new Error(`round config: HTTP ${r.status} ${await r.text()}`);
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'stripes-contribute-test-'));
  server = await startLocalServer();
  // A fresh tiny pair (trains in a moment) owned by this test, with a round that one contribution closes.
  const { token } = await createToken(new ApiClient(server.url), 'contribute test');
  const client = new ApiClient(server.url, token);
  await createPair(client, { slug: SLUG, title: 'Tiny contribution test', domainA: 'warm', domainB: 'cool', description: '', licence: 'CC0-1.0' });
  const config = presetConfig('tiny');
  const nets = Object.fromEntries(NETWORKS.map((net, i) => [net, Object.fromEntries(initValues(specsOf(config, net), 11 + i))]));
  // Untrained networks (what the web app's Create makes): its first round trains on the round's own schedule.
  const ckpt = await encodeCheckpoint(config, nets, { meta: { source: 'init' } });
  await pushCheckpoint(client, SLUG, { where: 'memory', manifest: ckpt.manifest, fetchShard: async (h) => ckpt.shards.get(h)! });
  ownerToken = token;
  // Rounds open once the pair holds validation images (the quality gate measures every round on them).
  for (const [i, d] of (['A', 'B'] as const).entries()) {
    const rand = mulberry32(90 + i);
    const images = Array.from({ length: 8 }, () => ({ data: Uint8Array.from({ length: 32 * 32 * 3 }, () => Math.round(255 * rand())), width: 32, height: 32, channels: 3 as const }));
    await client.request('PUT', `/api/pairs/${SLUG}/validation/${d}`, { body: encodeValidationSet(images) });
  }
  await configureRound({ quorum: { min: 1, max: 1 }, train: { steps: 4, cropSize: 32, batchSize: 1 } });
  await mkdir(SCREENSHOTS, { recursive: true });
  browser = await launchBrowser();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('contributing from the browser', () => {
  it('trains on local images, the round accepts the contribution, and the version advances', async () => {
    const filesA = await writeImages(join(tmp, 'A'), [220, 120, 60], 1, 8);
    const dirB = join(tmp, 'B');
    await writeImages(dirB, [60, 120, 220], 2, 8);
    const before = await getJson<Pair>(server.url, api.pair(SLUG));
    expect(before.currentVersion).toBe(1);

    const page = await browser.newPage();
    await page.goto(`${server.url}/pairs/${SLUG}`);
    // The pair page shows the round and leads to the Contribute page.
    await page.waitForSelector('[data-testid=round-summary]');
    expect(await page.textContent('[data-testid=round-summary]')).toContain('opens round 1 (1 contributor needed');
    await page.click('[data-testid=contribute-link]');
    await page.waitForSelector('[data-testid=contribute-privacy]');
    expect(page.url()).toBe(`${server.url}/pairs/${SLUG}/contribute`);
    expect(await page.textContent('[data-testid=contribute-privacy]')).toContain('never leave this device');

    await page.setInputFiles('[data-testid=contribute-files-A]', filesA);
    await page.setInputFiles('[data-testid=contribute-folder-B]', dirB);
    expect(await page.getAttribute('[data-testid=contribute-count-A]', 'data-count')).toBe('8');
    expect(await page.getAttribute('[data-testid=contribute-count-B]', 'data-count')).toBe('8');
    await page.fill('[data-testid=contribute-budget]', '3');
    await page.click('[data-testid=contribute-start]');

    const result = await page.waitForSelector('[data-testid=contribute-result]', { timeout: 120_000 });
    const text = ((await result.textContent()) ?? '').replace(/\s+/g, ' ');
    expect(await result.getAttribute('data-accepted'), text).toBe('true');
    expect(text).toContain('3 steps on version 1');
    // Auto picked WASM: SwiftShader's WebGPU and WebGL are software, which the choice skips.
    expect(await page.getAttribute('[data-testid=contribute-ran-on]', 'data-backend')).toBe('wasm');
    expect(await page.getAttribute('[data-testid=contribute-stats]', 'data-step')).toBe('3');
    expect(Number(await page.getAttribute('[data-testid=contribute-loss-chart]', 'data-points'))).toBe(9);
    expect(await page.getAttribute('[data-testid=contribute-preview]', 'data-step')).toBe('3');
    const upload = await page.$eval('[data-testid=contribute-upload]', (p) => [(p as HTMLProgressElement).value, (p as HTMLProgressElement).max]);
    expect(upload[0]).toBe(upload[1]);
    await page.screenshot({ path: join(SCREENSHOTS, 'contribute.png'), fullPage: true });

    // The round aggregates at once (quorum 1) and publishes version 2.
    let after = before;
    for (const t0 = Date.now(); after.currentVersion === 1 && Date.now() - t0 < 60_000; await new Promise((r) => setTimeout(r, 500)))
      after = await getJson<Pair>(server.url, api.pair(SLUG));
    expect(after.currentVersion).toBe(2);
    const round = await getJson<RoundStatus>(server.url, roundPaths.round(SLUG));
    const accepted = round.history.filter((h) => h.kind === 'accepted');
    expect(accepted).toHaveLength(1);
    expect(accepted[0].steps).toBe(3);
    expect(round.history.find((h) => h.kind === 'aggregated')?.version).toBe(2);
    // The page follows the contribution to its end: merged into version 2, which passed the gate.
    const outcome = await page.waitForSelector('[data-testid=contribution-outcome][data-state=merged]', { timeout: 60_000 });
    expect(await outcome.textContent()).toContain('version 2');

    // The pair page lists version 2 as passed, and draws the gate's measurements of versions 1 and 2
    // (cycle error and realism: two curves of two points).
    await page.goto(`${server.url}/pairs/${SLUG}`);
    await page.waitForSelector('[data-testid=version-chart]');
    expect(await page.textContent('[data-testid=round-summary]')).toContain('opens round 2');
    expect(await page.getAttribute('[data-testid=version-chart]', 'data-points')).toBe('4');
    expect(await page.getAttribute('[data-testid=versions] li[data-version="2"]', 'data-gate')).toBe('passed');
    expect(await page.getAttribute('[data-testid=round-verdict]', 'data-kind')).toBe('passed');
    await page.screenshot({ path: join(SCREENSHOTS, 'pair-round.png'), fullPage: true });
    expect(browser.errors).toEqual([]);
    await page.close();
  });

  it('takes a budget in minutes: training stops when the time is up, and what was done is contributed', async () => {
    // K far beyond what the budget allows: were the minutes ignored, this would train for hours.
    await configureRound({ train: { steps: 100_000 } });
    const page = await browser.context.newPage();
    await page.goto(`${server.url}/pairs/${SLUG}/contribute`);
    await page.setInputFiles('[data-testid=contribute-folder-A]', join(tmp, 'A'));
    await page.setInputFiles('[data-testid=contribute-folder-B]', join(tmp, 'B'));
    await page.selectOption('[data-testid=contribute-budget-kind]', 'minutes');
    await page.fill('[data-testid=contribute-budget]', '0.05');
    await page.click('[data-testid=contribute-start]');
    const result = await page.waitForSelector('[data-testid=contribute-result]', { timeout: 120_000 });
    expect(await result.getAttribute('data-accepted'), (await result.textContent()) ?? '').toBe('true');
    const roundNo = Number(await result.getAttribute('data-round'));
    const round = await getJson<RoundStatus>(server.url, roundPaths.round(SLUG));
    const mine = round.history.filter((h) => h.kind === 'accepted' && h.round === roundNo);
    expect(mine).toHaveLength(1);
    // At least one step always runs; the budget, not K, ended it.
    expect(mine[0].steps).toBeGreaterThanOrEqual(1);
    expect(mine[0].steps).toBeLessThan(100_000);
    expect(Number(await page.getAttribute('[data-testid=contribute-stats]', 'data-step'))).toBe(mine[0].steps);
    expect(browser.errors).toEqual([]);
    await page.close();
  });

  it('says why when the round turns a contribution away, and the round is unchanged', async () => {
    // The previous test's round may still be closing (building, then its gate): wait until it rests.
    let before = await getJson<RoundStatus>(server.url, roundPaths.round(SLUG));
    for (const t0 = Date.now(); before.state !== 'idle' && before.state !== 'open' && Date.now() - t0 < 60_000; await new Promise((r) => setTimeout(r, 300)))
      before = await getJson<RoundStatus>(server.url, roundPaths.round(SLUG));
    const page = await browser.context.newPage();
    // A token the server never issued: the lease is refused before anything is trained or sent.
    await page.addInitScript(() => localStorage.setItem('stripes.token', 'not-a-real-token'));
    await page.goto(`${server.url}/pairs/${SLUG}/contribute`);
    await page.setInputFiles('[data-testid=contribute-files-A]', [join(tmp, 'A/img0.png')]);
    await page.setInputFiles('[data-testid=contribute-files-B]', [join(tmp, 'B/img0.png')]);
    await page.click('[data-testid=contribute-start]');
    const result = await page.waitForSelector('[data-testid=contribute-result]', { timeout: 60_000 });
    expect(await result.getAttribute('data-accepted')).toBe('false');
    expect(await result.textContent()).toMatch(/^Not accepted: lease: the server answered 401: .+/);
    const after = await getJson<RoundStatus>(server.url, roundPaths.round(SLUG));
    expect([after.round, after.state, after.leases, after.committed]).toEqual([before.round, before.state, before.leases, before.committed]);
    // The refused request is the only thing the browser complained about.
    expect(browser.errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
    await page.close();
  });
});
