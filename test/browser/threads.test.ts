/**
 * Threads in the browser: the app (pages, scripts, workers, wasm) and the API (manifests, shards)
 * are served with the cross-origin isolation headers, so `crossOriginIsolated` is true and
 * SharedArrayBuffer exists; the wasm backend then runs tfjs-backend-wasm's threaded SIMD build
 * from the production Vite build, with one thread per core the page reports (capped at the glue's
 * pthread pool of 8), and the single-threaded SIMD build when asked for one thread. Translation and
 * a training step agree between the two. The download and the Cache API keep working isolated
 * (the camera is covered, isolated too, by web.test.ts).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../cli/image-io.ts';
import { api } from '../../shared/api/paths.ts';
import { presetConfig } from '../../shared/model/config.ts';
import { validateManifest } from '../../shared/weights/manifest.ts';
import { launchBrowser, type Browser } from './browser.ts';
import { maxLevelDiff, normCancelledBias } from './reference.ts';
import { seededDemo } from './seed.ts';
import { ROOT, startLocalServer, type LocalServer } from './server.ts';

/** A real photo, 70×47. */
const PHOTO = join(ROOT, 'test/fixtures/images/chelsea.png');
const DIST = join(ROOT, 'web/dist');

let server: LocalServer;
let slug: string;

beforeAll(async () => {
  // The trainer worker answers `checkStep` only in test builds.
  process.env.VITE_STRIPES_TEST_HOOKS = '1';
  server = await startLocalServer({ timeoutMs: 540_000 });
  slug = (await seededDemo(server.url)).slug;
}, 600_000);

afterAll(async () => {
  await server?.stop();
});

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p);
  }
  return out;
}

type Nets = Record<string, Record<string, number[]>>;

interface Opened {
  browser: Browser;
  page: import('playwright-core').Page;
  /** Every worker the page started (nested ones too), by URL. */
  workers: string[];
  /** What the page's workers logged. */
  logged: string[];
}

/**
 * A fresh browser on the pair page with the wasm backend forced; `cores` overrides what
 * navigator.hardwareConcurrency reports to the page, `threads` stores a thread count.
 */
async function openPair(o: { cores?: number; threads?: number } = {}): Promise<Opened> {
  const browser = await launchBrowser();
  await browser.context.addInitScript(({ cores, threads }) => {
    localStorage.setItem('stripes.backend', 'wasm');
    if (threads !== null) localStorage.setItem('stripes.threads', String(threads));
    if (cores !== null) Object.defineProperty(Navigator.prototype, 'hardwareConcurrency', { get: () => cores, configurable: true });
  }, { cores: o.cores ?? null, threads: o.threads ?? null });
  const page = await browser.newPage();
  const workers: string[] = [];
  const logged: string[] = [];
  page.on('worker', (w) => {
    workers.push(w.url());
    w.on('console', (m) => logged.push(m.text()));
  });
  // Not the `load` event (every gallery image): on a loaded machine it took over 30 s once. What
  // matters is the translator being ready, which has its own, longer wait.
  await page.goto(`${server.url}/pairs/${slug}`, { waitUntil: 'domcontentloaded' });
  await page.waitForFunction(() => document.querySelector('[data-testid=translate-status]')?.textContent?.includes('Ready on'), null, { timeout: 120_000 });
  return { browser, page, workers, logged };
}

/** Translates the photo A→B on an opened page; the shown pixels and what the page reported. */
async function translatePhoto({ page }: Opened) {
  await page.setInputFiles('[data-testid=translate-input]', PHOTO);
  await page.waitForFunction(
    () => {
      const err = document.querySelector('[data-testid=translate-error]');
      if (err) throw new Error(err.textContent ?? 'translate error');
      return Number(document.querySelector('[data-testid=translate-output]')?.getAttribute('data-count')) >= 1;
    },
    undefined,
    { timeout: 150_000, polling: 100 },
  );
  const out = page.locator('[data-testid=translate-output]');
  return {
    backend: await out.getAttribute('data-backend'),
    threads: Number(await page.getAttribute('[data-testid=translate-status]', 'data-threads')),
    pixels: await out.evaluate((c: HTMLCanvasElement) => ({
      width: c.width,
      height: c.height,
      data: Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data),
    })),
  };
}

const pthreadWorkers = (o: Opened) => o.workers.filter((u) => /\/assets\/tfjs-pthread-worker-[\w-]+\.js$/.test(u)).length;

/** RGBA canvas pixels as the RGB image maxLevelDiff compares against. */
function rgbOf(p: { width: number; height: number; data: number[] }) {
  const data = new Uint8Array(p.width * p.height * 3);
  for (let i = 0; i < p.width * p.height; i++) for (let c = 0; c < 3; c++) data[3 * i + c] = p.data[4 * i + c];
  return { width: p.width, height: p.height, data };
}

describe('threads in the browser', () => {
  it('serves every page, every file of the build and the API with the cross-origin isolation headers', async () => {
    const isolatedDoc = (r: Response, what: string) => {
      expect(r.status, what).toBe(200);
      expect(r.headers.get('cross-origin-opener-policy'), what).toBe('same-origin');
      expect(r.headers.get('cross-origin-embedder-policy'), what).toBe('require-corp');
      expect(r.headers.get('cross-origin-resource-policy'), what).toBe('same-origin');
    };
    for (const path of ['/', `/pairs/${slug}`, '/create', '/no/such/page']) isolatedDoc(await fetch(server.url + path), path);
    const files = (await filesUnder(DIST)).map((f) => '/' + relative(DIST, f).split('\\').join('/')).filter((p) => p !== '/_headers');
    // The pthread scripts of the threaded build ship as files of the build, beside its wasm.
    expect(files.filter((p) => /^\/assets\/tfjs-pthread-(worker|main)-[\w-]+\.js$/.test(p))).toHaveLength(2);
    expect(files.some((p) => /tfjs-backend-wasm-threaded-simd-[\w-]+\.wasm$/.test(p))).toBe(true);
    for (const path of files) isolatedDoc(await fetch(server.url + path), path);

    // The API is public data: CORP cross-origin, on answers, shards and errors alike.
    const current = await fetch(server.url + api.current(slug));
    expect(current.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    const manifest = validateManifest((await current.json()).manifest);
    const shard = await fetch(server.url + api.shard(manifest.groups.G_AB!.paths[0]));
    expect(shard.ok).toBe(true);
    expect(shard.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    const missing = await fetch(`${server.url}/api/pairs/no-such-pair`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
  });

  it('is cross-origin isolated and translates on the threaded build as the single-threaded build does', async () => {
    const many = await openPair({ cores: 4 });
    let manyOut;
    try {
      expect(await many.page.evaluate(() => [crossOriginIsolated, typeof SharedArrayBuffer])).toEqual([true, 'function']);
      manyOut = await translatePhoto(many);
      expect(manyOut.backend).toBe('wasm');
      expect(manyOut.threads).toBe(4);
      expect(many.logged).toContain('[stripes] wasm backend: 4 threads (threaded SIMD build)');
      // The glue pre-starts its pthread pool from the build's own script (not a blob: URL).
      expect(pthreadWorkers(many)).toBe(8);

      // The download is the shown picture; the weights went to the Cache API.
      const [download] = await Promise.all([many.page.waitForEvent('download'), many.page.click('[data-testid=translate-download]')]);
      const saved = decodeImage(new Uint8Array(await readFile((await download.path())!)), 'download');
      expect(maxLevelDiff(manyOut.pixels.data, saved)).toBe(0);
      const cached = await many.page.evaluate(async () => {
        let n = 0;
        for (const name of await caches.keys()) n += (await (await caches.open(name)).keys()).length;
        return n;
      });
      expect(cached).toBeGreaterThan(0);
      expect(many.browser.errors).toEqual([]);
    } finally {
      await many.browser.close();
    }

    const one = await openPair({ cores: 4, threads: 1 });
    try {
      expect(await one.page.evaluate(() => crossOriginIsolated)).toBe(true);
      const oneOut = await translatePhoto(one);
      expect(oneOut.threads).toBe(1);
      expect(one.logged).toContain('[stripes] wasm backend: 1 thread (SIMD build)');
      expect(pthreadWorkers(one)).toBe(0);
      expect(one.browser.errors).toEqual([]);

      expect([manyOut.pixels.width, manyOut.pixels.height]).toEqual([70, 47]);
      // Same weights, same kernels; threads only split the work. Float sums may round differently.
      expect(maxLevelDiff(manyOut.pixels.data, rgbOf(oneOut.pixels))).toBeLessThanOrEqual(1);
      // Not a blank picture: the output differs from the input.
      const src = decodeImage(new Uint8Array(await readFile(PHOTO)), PHOTO);
      expect(maxLevelDiff(manyOut.pixels.data, src)).toBeGreaterThan(50);
    } finally {
      await one.browser.close();
    }
  });

  it('takes one thread per core the page reports, at most 8 (the pthread pool)', async () => {
    const real = await openPair();
    try {
      const cores = await real.page.evaluate(() => navigator.hardwareConcurrency);
      const want = Math.min(cores, 8);
      const shown = Number(await real.page.getAttribute('[data-testid=translate-status]', 'data-threads'));
      expect(shown).toBe(want);
    } finally {
      await real.browser.close();
    }
    const big = await openPair({ cores: 32 });
    try {
      expect(Number(await big.page.getAttribute('[data-testid=translate-status]', 'data-threads'))).toBe(8);
      expect(await big.page.textContent('[data-testid=translate-status]')).toContain('Ready on WebAssembly (SIMD), 8 threads.');
      expect(big.logged).toContain('[stripes] wasm backend: 8 threads (threaded SIMD build)');
      expect(big.browser.errors).toEqual([]);
    } finally {
      await big.browser.close();
    }
  });

  it('runs a training step on the threaded build as on the single-threaded one', async () => {
    const worker = (await readdir(join(DIST, 'assets'))).find((f) => /^trainer\.worker-.*\.js$/.test(f));
    expect(worker).toBeDefined();
    const LR = 2e-4;
    const step = async (threads: number) => {
      const browser = await launchBrowser();
      try {
        const page = await browser.newPage();
        const workers: string[] = [];
        page.on('worker', (w) => workers.push(w.url()));
        // Any path serves the app (same origin, isolated); the worker is driven through its messages.
        await page.goto(`${server.url}/harness`);
        const got = await page.evaluate(
          async ({ path, threads, config, lr }) => {
            const w = new Worker(path, { type: 'module' });
            const ask = (msg: object) =>
              new Promise<any>((resolve, reject) => {
                w.onmessage = (e) => (e.data.type === 'error' ? reject(new Error(e.data.message)) : resolve(e.data));
                w.onerror = (e) => reject(new Error(e.message));
                w.postMessage(msg);
              });
            const chosen = await ask({ id: 1, type: 'setBackend', choice: 'wasm', threads });
            const r = await ask({ id: 2, type: 'checkStep', config, seed: 3, size: 32, lr });
            w.terminate();
            const plain = (nets: Record<string, Record<string, Float32Array>>) =>
              Object.fromEntries(Object.entries(nets).map(([n, ps]) => [n, Object.fromEntries(Object.entries(ps).map(([k, v]) => [k, Array.from(v)]))]));
            return { backend: chosen.backend, threads: chosen.threads, losses: r.losses as Record<string, number>, before: plain(r.before) as Nets, after: plain(r.after) as Nets };
          },
          { path: `/assets/${worker}`, threads, config: presetConfig('tiny'), lr: LR },
        );
        expect(browser.errors).toEqual([]);
        return { ...got, pthreads: workers.filter((u) => /tfjs-pthread-worker/.test(u)).length };
      } finally {
        await browser.close();
      }
    };
    const many = await step(3);
    const one = await step(1);
    expect([many.backend, many.threads, many.pthreads]).toEqual(['wasm', 3, 8]);
    expect([one.backend, one.threads, one.pthreads]).toEqual(['wasm', 1, 0]);
    expect(many.before).toEqual(one.before);
    for (const [k, v] of Object.entries(one.losses)) expect(Math.abs(many.losses[k] - v), k).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(v)));
    // Conv biases that feed an instance norm have a true gradient of 0: their Adam step is rounding
    // noise scaled up to ±lr on any path (train-webgpu.test.ts), so they are only bounded.
    const cancelled = normCancelledBias(presetConfig('tiny'));
    let n = 0;
    let worst = 0;
    let moved = 0;
    for (const net of Object.keys(one.after))
      for (const p of Object.keys(one.after[net])) {
        if (cancelled(net, p)) continue;
        for (let i = 0; i < one.after[net][p].length; i++) {
          const d1 = one.after[net][p][i] - one.before[net][p][i];
          const dn = many.after[net][p][i] - many.before[net][p][i];
          worst = Math.max(worst, Math.abs(d1 - dn));
          if (Math.abs(d1) > LR / 2) moved++;
          n++;
        }
      }
    console.log(`threads: training step on 3 threads vs 1: ${n} weights, ${moved} moved by > lr/2, worst step difference ${worst.toExponential(2)}`);
    expect(moved).toBeGreaterThan(0.9 * n);
    expect(worst).toBeLessThanOrEqual(1e-6);
  });
});
