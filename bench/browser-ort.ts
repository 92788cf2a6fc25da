/**
 * The in-browser peer: onnxruntime-web (wasm, SIMD, threaded) running the same generator weights
 * in the same headless Chromium page as Stripes's own path (the app's translator worker on
 * tfjs-backend-wasm, cross-origin isolated, threaded SIMD build above one thread), at the same
 * thread count, interleaved.
 *
 *   node cli/run-ts.mjs bench/browser-ort.ts [--models small,full,fast] [--threads 1,N] [--runs N] [--side 256]
 *       [--first-side 512] [--no-first] [--json FILE]
 *
 * Models: the `small` and `full` presets, and `fast`: the distilled student (mobile ResNet,
 * shared/model/student.ts) at the size `stripes distill` gives a `small` teacher, the demo pair's
 * own `variants.fast` (ngf 6, 6 blocks). Threads: 1 and every core (at most 8) by default.
 * `fast` runs in a harness page instead of the app (written before the app's Fast switch)
 * (bench/browser-model/: shared/model/student.ts on web/src/lib/backend.ts's wasm setup, built
 * with the app's Vite config), compared with PyTorch's output as floats.
 *
 * Per model: scripts/export_onnx.py writes one set of weights (seeded init, made here: nothing is
 * downloaded) as ONNX and in Stripes's layout (bench/out/cache/<model>/); the Stripes layout is
 * published as a pair on a local server (the student as the pair's `variants.fast`, which the app
 * runs by default on wasm), and the ONNX file and onnxruntime-web's files are put beside the
 * built app so the same origin serves them, isolated like the app. Before timing, in the page:
 * onnxruntime-web's output on the export's input is checked against PyTorch's, and the app's
 * translation of an image against onnxruntime-web's on the same pixels (8-bit levels; the app
 * runs the float16 download, so a level or two apart). Then per image: the app's `data-ms`
 * (forward pass and pixel read-back, in its worker) beside `session.run` on the same input,
 * alternating. Time to first translation (page load, weights, backend start, first run) is
 * measured on a fresh profile (cold cache) and again in it (warm cache).
 */
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { encodePng } from '../cli/image-io.ts';
import { presetConfig, type PresetName } from '../shared/model/config.ts';
import { fastStudentConfig, type StudentConfig } from '../shared/model/student-config.ts';
import { build } from 'vite';
import { initValues } from '../shared/model/init.ts';
import { encodeCheckpoint, type NetworkParams } from '../shared/weights/checkpoint.ts';
import { specsFor } from '../shared/weights/manifest.ts';
import { readSafetensors } from '../shared/weights/safetensors.ts';
import { launchBrowser, type Browser } from '../test/browser/browser.ts';
import { publishPair } from '../test/browser/seed.ts';
import { ROOT, startLocalServer, type LocalServer } from '../test/browser/server.ts';
import { ensureExport } from './forward.ts';
import { formatLoad, sampleLoad } from './lib/load.ts';
import { summarize } from './lib/stats.ts';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'fast,small,full' },
    threads: { type: 'string' },
    runs: { type: 'string', default: '5' },
    side: { type: 'string', default: '256' },
    'first-side': { type: 'string', default: '512' },
    /** Models whose time to first translation is measured (the full preset's takes minutes). */
    'first-models': { type: 'string', default: 'small' },
    'no-first': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});
const MODELS = ['small', 'full', 'fast'] as const;
type Model = (typeof MODELS)[number];
const models = values.models!.split(',').map((p) => {
  if (!(MODELS as readonly string[]).includes(p)) throw new Error(`--models: unknown model "${p}" (use ${MODELS.join(', ')})`);
  return p as Model;
});
/** The `fast` student's teacher: the demo pair's preset. */
const FAST_TEACHER: PresetName = 'small';
const cores = (await import('node:os')).availableParallelism();
const threadCounts = (values.threads ?? `1,${Math.min(8, cores)}`).split(',').map(Number).filter((t, i, a) => t >= 1 && a.indexOf(t) === i);
const runs = Number(values.runs);
const SIDE = Number(values.side);
const FIRST = Number(values['first-side']);
const log = (m: string) => console.error(m);

const ORT_PKG = join(ROOT, 'node_modules/onnxruntime-web');
const ORT_DIR = join(ORT_PKG, 'dist');
const ORT_VERSION = (JSON.parse(await readFile(join(ORT_PKG, 'package.json'), 'utf8')) as { version: string }).version;
const ORT_ENTRY = 'ort.wasm.min.mjs';

function rgba(values: Float32Array, side: number): Uint8Array {
  const out = new Uint8Array(side * side * 3);
  for (let i = 0; i < out.length; i++) out[i] = Math.max(0, Math.min(255, Math.round((values[i] + 1) * 127.5)));
  return out;
}

function nchw(x: ArrayLike<number>, side: number): number[] {
  const out = new Array<number>(x.length);
  for (let p = 0; p < side * side; p++) for (let c = 0; c < 3; c++) out[c * side * side + p] = x[p * 3 + c];
  return out;
}

/** A smooth, textured test image (content does not change a conv net's cost). */
function testImage(side: number): Uint8Array {
  const data = new Uint8Array(side * side * 3);
  for (let y = 0; y < side; y++)
    for (let x = 0; x < side; x++) {
      const i = 3 * (y * side + x);
      data[i] = (x * 255) / side;
      data[i + 1] = (y * 255) / side;
      data[i + 2] = 128 + 100 * Math.sin((x + y) / 9);
    }
  return data;
}

/**
 * onnxruntime-web in a module Worker of the page, as the app's translator runs in one, so both
 * are timed the same way and neither blocks the page.
 */
const ORT_WORKER = `
let ort, session, input;
self.onmessage = async (e) => {
  const m = e.data;
  try {
    if (m.type === 'setup') {
      const t0 = performance.now();
      ort = await import(m.base + 'ort/' + m.entry);
      ort.env.wasm.wasmPaths = m.base + 'ort/';
      ort.env.wasm.numThreads = m.threads;
      session = await ort.InferenceSession.create(m.base + m.model + '.onnx', { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
      postMessage({ ms: performance.now() - t0 });
    } else {
      if (m.input) input = Float32Array.from(m.input);
      const x = input && input.length === 3 * m.side * m.side ? input : new Float32Array(3 * m.side * m.side).fill(0.1);
      const t0 = performance.now();
      const r = await session.run({ input: new ort.Tensor('float32', x, [1, 3, m.side, m.side]) });
      const ms = performance.now() - t0;
      postMessage({ ms, out: m.want ? Array.from(r.output.data) : undefined });
    }
  } catch (err) {
    postMessage({ error: String((err && err.message) || err) });
  }
};`;

/** Starts onnxruntime-web (in its worker) with `threads` threads and creates the session; resolves to ms. */
async function ortSetup(page: Page, threads: number, model: Model): Promise<number> {
  return page.evaluate(
    async ({ entry, threads, model, src }) => {
      const g = globalThis as unknown as { __ortWorker?: Worker; __ortCall?: (m: unknown) => Promise<any> };
      g.__ortWorker?.terminate();
      const w = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })), { type: 'module' });
      g.__ortWorker = w;
      g.__ortCall = (m) =>
        new Promise((resolve, reject) => {
          w.onmessage = (e) => (e.data.error ? reject(new Error(e.data.error)) : resolve(e.data));
          w.onerror = (e) => reject(new Error(e.message || 'ORT worker failed'));
          w.postMessage(m);
        });
      const r = await g.__ortCall({ type: 'setup', base: location.origin + '/__bench/', entry, threads, model });
      return r.ms as number;
    },
    { entry: ORT_ENTRY, threads, model, src: ORT_WORKER },
  );
}

/** One session.run on an NCHW input; resolves to its ms and (when asked) its output. */
async function ortRun(page: Page, input: number[] | null, side: number, want: boolean): Promise<{ ms: number; out?: number[] }> {
  return page.evaluate(
    async ({ input, side, want }) => {
      const g = globalThis as unknown as { __ortCall: (m: unknown) => Promise<{ ms: number; out?: number[] }> };
      return g.__ortCall({ type: 'run', input, side, want });
    },
    { input, side, want },
  );
}

async function appTranslate(page: Page, file: string, n: number): Promise<{ ms: number; pixels: number[] }> {
  await page.setInputFiles('[data-testid=translate-input]', []);
  await page.setInputFiles('[data-testid=translate-input]', file);
  await page.waitForFunction(
    (k) => {
      const err = document.querySelector('[data-testid=translate-error]');
      if (err) throw new Error(err.textContent ?? 'translate error');
      return Number(document.querySelector('[data-testid=translate-output]')?.getAttribute('data-count')) >= k;
    },
    n,
    { timeout: 600_000, polling: 50 },
  );
  const out = page.locator('[data-testid=translate-output]');
  return {
    ms: Number(await out.getAttribute('data-ms')),
    pixels: n === 1 ? await out.evaluate((c: HTMLCanvasElement) => Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data)) : [],
  };
}

/**
 * The harness page (bench/browser-model/, built with the app's Vite config into the served
 * folder): the project's model code and backend setup in a worker, for the student.
 */
async function routeOnnx(browser: Browser): Promise<void> {
  await browser.context.route('**/__bench/*.onnx', async (route) => {
    const name = new URL(route.request().url()).pathname.slice('/__bench/'.length, -'.onnx'.length);
    const file = onnxFiles.get(name);
    if (!file) return route.fulfill({ status: 404, body: 'not found' });
    await route.fulfill({ body: await readFile(file), headers: { 'Content-Type': 'application/octet-stream', 'Cross-Origin-Resource-Policy': 'same-origin' } });
  });
}

async function openHarness(server: LocalServer): Promise<{ browser: Browser; page: Page }> {
  const browser = await launchBrowser();
  await routeOnnx(browser);
  const page = await browser.newPage();
  await page.goto(`${server.url}/__bench/model/bench.html`);
  await page.waitForFunction(() => '__model' in window);
  return { browser, page };
}

async function harnessSetup(page: Page, threads: number, config: StudentConfig, params: Record<string, { data: Float32Array; shape: number[] }>): Promise<number> {
  const plain = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, { data: Array.from(v.data), shape: v.shape }]));
  return page.evaluate(
    async ({ threads, config, plain }) => {
      const params = Object.fromEntries(Object.entries(plain).map(([k, v]) => [k, { data: Float32Array.from(v.data), shape: v.shape }]));
      const call = (window as unknown as { __model: (m: unknown) => Promise<{ threads?: number }> }).__model;
      return (await call({ type: 'setup', threads, arch: 'mobile', config, params })).threads ?? 1;
    },
    { threads, config, plain },
  );
}

/** One forward pass in the harness on an NHWC input; its ms and (when asked) its output, NHWC. */
async function harnessRun(page: Page, input: Float32Array, side: number, want: boolean): Promise<{ ms: number; out?: number[] }> {
  return page.evaluate(
    async ({ input, side, want }) => {
      const call = (window as unknown as { __model: (m: unknown) => Promise<{ ms: number; out?: Float32Array }> }).__model;
      const r = await call({ type: 'run', side, input: Float32Array.from(input), want });
      return { ms: r.ms, out: r.out ? Array.from(r.out) : undefined };
    },
    { input: Array.from(input), side, want },
  );
}

async function openPage(slug: string, server: LocalServer, threads: number, navigate = true): Promise<{ browser: Browser; page: Page }> {
  const browser = await launchBrowser();
  await browser.context.addInitScript((t) => {
    localStorage.setItem('stripes.backend', 'wasm');
    localStorage.setItem('stripes.threads', String(t));
  }, threads);
  await routeOnnx(browser);
  const page = await browser.newPage();
  if (navigate) await page.goto(`${server.url}/pairs/${slug}`);
  return { browser, page };
}

const median = (xs: number[]) => (xs.length ? summarize(xs).median : NaN);

interface Row {
  model: Model;
  /** The wasm threads the app (or, for the student, the harness) reported running. */
  appThreads?: number;
  threads: number;
  ortVsPytorch: number;
  /** App vs ORT in 8-bit levels; for the student, the harness's max |Δ| from PyTorch's output. */
  appVsOrtLevels: number;
  stripesMs: number[];
  ortMs: number[];
  first: { stripesCold: number; stripesWarm: number; ortCold: number; ortWarm: number } | null;
  /** 1-minute load average when the row started and ended. */
  load: [number, number];
  error?: string;
}

const tmp = await mkdtemp(join(tmpdir(), 'stripes-bench-ort-'));
const server = await startLocalServer();
// The student's harness, built with the app's own Vite config (its wasm builds and pthread files).
await build({
  configFile: join(ROOT, 'web/vite.config.ts'),
  root: join(ROOT, 'bench/browser-model'),
  base: '/__bench/model/',
  logLevel: 'warn',
  build: { outDir: join(ROOT, 'web/dist/__bench/model'), emptyOutDir: true, rollupOptions: { input: join(ROOT, 'bench/browser-model/bench.html') } },
});
// onnxruntime-web and the ONNX model are served by the local server itself, beside the built app
// (removed at the end): same origin, the same isolation headers, and reachable from
// onnxruntime-web's pthread workers, which Playwright's request routing would not reach.
const SERVED = join(ROOT, 'web/dist/__bench');
await mkdir(join(SERVED, 'ort'), { recursive: true });
await writeFile(join(SERVED, 'blank.html'), '<!doctype html><meta charset="utf-8"><title>bench</title>\n');
for (const f of await readdir(ORT_DIR)) if (/^ort(-wasm-simd-threaded\.(mjs|wasm)|\.wasm\.min\.mjs)$/.test(f)) await copyFile(join(ORT_DIR, f), join(SERVED, 'ort', f));
const rows: Row[] = [];
const started = sampleLoad();
/** The ONNX files, served to the page by Playwright's routing: the full preset's (44 MiB) is over wrangler's 25 MiB asset limit. */
const onnxFiles = new Map<string, string>();
const params = (t: Map<string, { data: Float32Array }>): NetworkParams => Object.fromEntries([...t].map(([k, v]) => [k, v.data]));
try {
  for (const model of models) {
    const dir = join(ROOT, 'bench/out/cache', model === 'fast' ? `fast-${FAST_TEACHER}` : model);
    const teacher = model === 'fast' ? FAST_TEACHER : model;
    const config = presetConfig(teacher);
    const student = model === 'fast' ? fastStudentConfig(config.generator) : undefined;
    ensureExport(dir, teacher, [SIDE], log, student);
    onnxFiles.set(model, join(dir, 'G.onnx'));
    const G = params(readSafetensors(await readFile(join(dir, 'G.stripes.safetensors')), 'G.stripes').tensors);
    const D_A: NetworkParams = Object.fromEntries(initValues(specsFor('D_A', config), 3));
    const D_B: NetworkParams = Object.fromEntries(initValues(specsFor('D_B', config), 4));
    const slug = `bench-ort-${model}`;
    // The student runs in the harness (written before the app's Fast switch), the presets in the app.
    if (!student) await publishPair(server.url, { slug, title: `Bench ORT ${model}`, domainA: 'A', domainB: 'B', description: '', licence: 'CC0-1.0' }, await encodeCheckpoint(config, { G_AB: G, G_BA: G, D_A, D_B }));
    const shapes = readSafetensors(await readFile(join(dir, 'G.stripes.safetensors')), 'G.stripes').tensors;
    const io = readSafetensors(await readFile(join(dir, 'io.safetensors')), 'io').tensors;
    const input = io.get(`input_${SIDE}`)!.data;
    const expected = io.get(`output_${SIDE}`)!.data;
    // The app reads 8-bit pixels: both runtimes get the export's input rounded to levels.
    const px = rgba(input, SIDE);
    const image = join(tmp, `${model}.png`);
    await writeFile(image, encodePng({ width: SIDE, height: SIDE, data: px }));
    const quantized = nchw(Array.from(px, (v) => v / 127.5 - 1), SIDE);
    const firstImage = join(tmp, `first-${FIRST}.png`);
    await writeFile(firstImage, encodePng({ width: FIRST, height: FIRST, data: testImage(FIRST) }));

    for (const threads of threadCounts) {
      const row: Row = { model, threads, ortVsPytorch: NaN, appVsOrtLevels: NaN, stripesMs: [], ortMs: [], first: null, load: [sampleLoad().loadavg[0], NaN] };
      rows.push(row);
      const { browser, page } = student ? await openHarness(server) : await openPage(slug, server, threads);
      try {
        log(`browser-ort ${model} ${threads}T: checking outputs (${formatLoad(sampleLoad())})`);
        await ortSetup(page, threads, model);
        const exact = await ortRun(page, nchw(input, SIDE), SIDE, true);
        const want = nchw(expected, SIDE);
        row.ortVsPytorch = exact.out!.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i])), 0);
        if (student) {
          // The harness: same float32 weights and input as ORT; outputs compared as floats.
          const weights = Object.fromEntries([...shapes].map(([k, t]) => [k, { data: t.data, shape: t.shape }]));
          row.appThreads = await harnessSetup(page, threads, student, weights);
          if (row.appThreads !== threads) throw new Error(`the harness runs ${row.appThreads} wasm threads, not ${threads}`);
          const mine = await harnessRun(page, input, SIDE, true);
          row.appVsOrtLevels = mine.out!.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i])), 0);
          if (!(row.ortVsPytorch < 1e-3 && row.appVsOrtLevels < 1e-3)) throw new Error(`outputs disagree: ORT vs PyTorch ${row.ortVsPytorch}, Stripes vs PyTorch ${row.appVsOrtLevels}`);
          for (let i = 0; i < runs; i++) {
            row.stripesMs.push((await harnessRun(page, input, SIDE, false)).ms);
            row.ortMs.push((await ortRun(page, null, SIDE, false)).ms);
            log(`  ${model} ${threads}T: stripes ${row.stripesMs.at(-1)!.toFixed(0)} ms, ORT ${row.ortMs.at(-1)!.toFixed(0)} ms`);
          }
          row.load[1] = sampleLoad().loadavg[0];
          continue;
        }
        const ortQ = await ortRun(page, quantized, SIDE, true);
        const app = await appTranslate(page, image, 1);
        row.appThreads = Number(await page.getAttribute('[data-testid=translate-status]', 'data-threads'));
        if (row.appThreads !== threads) throw new Error(`the app runs ${row.appThreads} wasm threads, not ${threads}`);
        let worst = 0;
        for (let p = 0; p < SIDE * SIDE; p++)
          for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(app.pixels[4 * p + c] - Math.max(0, Math.min(255, Math.round((ortQ.out![c * SIDE * SIDE + p] + 1) * 127.5)))));
        row.appVsOrtLevels = worst;
        if (!(row.ortVsPytorch < 1e-3 && worst <= 3)) throw new Error(`outputs disagree: ORT vs PyTorch ${row.ortVsPytorch}, app vs ORT ${worst} levels`);
        // Alternate: one app translation, one session.run, ...
        for (let i = 0; i < runs; i++) {
          row.stripesMs.push((await appTranslate(page, image, i + 2)).ms);
          row.ortMs.push((await ortRun(page, null, SIDE, false)).ms);
          log(`  ${model} ${threads}T: stripes ${row.stripesMs.at(-1)!.toFixed(0)} ms, ORT ${row.ortMs.at(-1)!.toFixed(0)} ms`);
        }
      } catch (e) {
        row.error = (e as Error).message.split('\n')[0];
        log(`  ${model} ${threads}T failed: ${row.error}`);
      } finally {
        await browser.close();
      }
      row.load[1] = sampleLoad().loadavg[0];
      if (student || row.error || values['no-first'] || !values['first-models']!.split(',').includes(model)) continue;
      // Time to first translation at FIRST×FIRST: fresh profile (cold), then the same profile again (warm).
      try {
        const first = async (which: 'stripes' | 'ort') => {
          // A fresh profile that has not opened the page yet: its first visit is the cold one.
          const { browser, page } = await openPage(slug, server, threads, false);
          const once = async () => {
            const t0 = performance.now();
            // ORT's page is a blank one of the same origin, so the app does not start beside it.
            await page.goto(which === 'stripes' ? `${server.url}/pairs/${slug}` : `${server.url}/__bench/blank.html`);
            if (which === 'stripes') await appTranslate(page, firstImage, 1);
            else {
              await ortSetup(page, threads, model);
              await ortRun(page, nchw(Array.from(testImage(FIRST), (v) => v / 127.5 - 1), FIRST), FIRST, false);
            }
            return performance.now() - t0;
          };
          try {
            const cold = await once();
            await page.goto('about:blank');
            return { cold, warm: await once() };
          } finally {
            await browser.close();
          }
        };
        const s = await first('stripes');
        const o = await first('ort');
        row.first = { stripesCold: s.cold, stripesWarm: s.warm, ortCold: o.cold, ortWarm: o.warm };
        log(`  ${model} ${threads}T first at ${FIRST}: stripes ${s.cold.toFixed(0)}/${s.warm.toFixed(0)} ms, ORT ${o.cold.toFixed(0)}/${o.warm.toFixed(0)} ms`);
      } catch (e) {
        log(`  ${model} ${threads}T first translation failed: ${(e as Error).message.split('\n')[0]}`);
      }
    }
  }
} catch (e) {
  log(`browser-ort failed: ${(e as Error).message}\nthe local server said (last 3000 characters):\n${server.output().slice(-3000)}`);
  throw e;
} finally {
  await server.stop();
  await rm(tmp, { recursive: true, force: true });
  await rm(SERVED, { recursive: true, force: true });
}
const ended = sampleLoad();
const ms = (v: number) => (Number.isFinite(v) ? (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`) : '—');
const lines = [
  `Stripes (tfjs-wasm, app translator) vs onnxruntime-web ${ORT_VERSION} (wasm SIMD), same page, ${SIDE}×${SIDE}, median of ${runs}; ${formatLoad(started)} → ${ended.loadavg[0].toFixed(2)}`,
  'model | threads | load | Stripes per image | ORT per image | Stripes ÷ ORT | ORT vs PyTorch max|Δ| | app vs ORT levels | first @' + FIRST + ' cold: Stripes / ORT | warm: Stripes / ORT',
];
for (const r of rows) {
  const s = median(r.stripesMs);
  const o = median(r.ortMs);
  lines.push(
    [r.model, r.threads, `${r.load[0].toFixed(1)}→${r.load[1].toFixed(1)}`, ms(s), ms(o), Number.isFinite(s / o) ? `${(s / o).toFixed(2)}×` : r.error ?? '—', r.ortVsPytorch.toExponential(1), Number.isInteger(r.appVsOrtLevels) ? r.appVsOrtLevels : `${r.appVsOrtLevels.toExponential(1)} (vs PyTorch)`,
      r.first ? `${ms(r.first.stripesCold)} / ${ms(r.first.ortCold)}` : '—', r.first ? `${ms(r.first.stripesWarm)} / ${ms(r.first.ortWarm)}` : '—'].join(' | '),
  );
}
console.log(lines.join('\n'));
if (values.json) await writeFile(values.json, JSON.stringify({ side: SIDE, firstSide: FIRST, runs, load: [started, ended], rows }, null, 2));
