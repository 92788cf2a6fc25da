/**
 * Browser benchmark (headless Chromium, the same launch as the browser tests): time to first
 * translation on a cold and a warm weight cache, and per-image latency at 256×256 for each TF.js
 * backend the browser starts, beside `stripes translate`'s wasm backend in Node on the same
 * weights and image.
 *
 *   node cli/run-ts.mjs bench/browser.ts [--preset tiny|small|full] [--backends webgpu,webgl,wasm] [--runs N]
 *
 * In this headless Chromium (--disable-gpu) WebGPU and WebGL run on SwiftShader, a CPU
 * emulation of a GPU: their numbers say nothing about a real GPU, and they are slow enough that
 * the default is the tiny preset; `--preset small --backends wasm` measures the on-device model.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createTranslator } from '../cli/commands/translate-worker.ts';
import { encodePng, type RgbImage } from '../cli/image-io.ts';
import { isPresetName, presetConfig, type PresetName } from '../shared/model/config.ts';
import { initValues } from '../shared/model/init.ts';
import { encodeCheckpoint, type NetworkParams } from '../shared/weights/checkpoint.ts';
import { specsFor } from '../shared/weights/manifest.ts';
import { launchBrowser } from '../test/browser/browser.ts';
import { publishPair } from '../test/browser/seed.ts';
import { ROOT, startLocalServer } from '../test/browser/server.ts';

const SIDE = 256;
const ALL_BACKENDS = ['webgpu', 'webgl', 'wasm'];

const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'tiny' },
    backends: { type: 'string', default: ALL_BACKENDS.join(',') },
    runs: { type: 'string', default: '3' },
  },
});
const BACKENDS = values.backends!.split(',');
for (const b of BACKENDS) if (!ALL_BACKENDS.includes(b)) throw new Error(`--backends: unknown backend "${b}" (use ${ALL_BACKENDS.join(', ')})`);
if (!isPresetName(values.preset!)) throw new Error(`--preset must be tiny, small or full, got ${values.preset}`);
const preset: PresetName = values.preset;
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${values.runs}`);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A smooth, textured 256×256 test image (content does not change the cost of a conv net). */
function testImage(): RgbImage {
  const data = new Uint8Array(SIDE * SIDE * 3);
  for (let y = 0; y < SIDE; y++)
    for (let x = 0; x < SIDE; x++) {
      const i = 3 * (y * SIDE + x);
      data[i] = (x * 255) / SIDE;
      data[i + 1] = (y * 255) / SIDE;
      data[i + 2] = 128 + 100 * Math.sin((x + y) / 9);
    }
  return { width: SIDE, height: SIDE, data };
}

const config = presetConfig(preset);
const G_AB: NetworkParams = Object.fromEntries(initValues(specsFor('G_AB', config), 1));
const G_BA: NetworkParams = Object.fromEntries(initValues(specsFor('G_BA', config), 2));
const ckpt = await encodeCheckpoint(config, { G_AB, G_BA });
const slug = `bench-${preset}`;

const tmp = await mkdtemp(join(tmpdir(), 'stripes-bench-browser-'));
const imagePath = join(tmp, 'image.png');
await writeFile(imagePath, encodePng(testImage()));

// The CLI's translator, in this process, on the wasm backend: warm-up, then the median of `runs`.
const cli = await createTranslator({ config: config.generator, params: G_AB, backend: 'wasm' });
await cli.translateImage(testImage(), 'bench');
const cliTimes: number[] = [];
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  await cli.translateImage(testImage(), 'bench');
  cliTimes.push(performance.now() - t0);
}
cli.dispose();

const server = await startLocalServer();
await publishPair(server.url, { slug, title: `Bench ${preset}`, domainA: 'A', domainB: 'B', description: '', licence: 'CC0-1.0' }, ckpt);

interface Row {
  backend: string;
  coldFirstMs: number | null;
  warmFirstMs: number | null;
  perImageMs: number | null;
  note?: string;
}
const rows: Row[] = [];
try {
  for (const backend of BACKENDS) {
    // A fresh profile per backend, so "cold" really starts with an empty Cache Storage.
    const browser = await launchBrowser();
    try {
      await browser.context.addInitScript((b) => localStorage.setItem('stripes.backend', b), backend);
      const page = await browser.newPage();
      const firstTranslation = async () => {
        const t0 = performance.now();
        await page.goto(`${server.url}/pairs/${slug}`);
        await page.setInputFiles('[data-testid=translate-input]', imagePath);
        await page.waitForFunction(
          () => {
            const err = document.querySelector('[data-testid=translate-error]');
            if (err) throw new Error(err.textContent ?? 'translate error');
            return Number(document.querySelector('[data-testid=translate-output]')?.getAttribute('data-count')) >= 1;
          },
          undefined,
          { timeout: 600_000, polling: 50 },
        );
        return performance.now() - t0;
      };
      const coldFirstMs = await firstTranslation();
      await page.goto('about:blank');
      const warmFirstMs = await firstTranslation();
      const used = await page.getAttribute('[data-testid=translate-output]', 'data-backend');
      if (used !== backend) throw new Error(`asked for ${backend}, ran on ${used}`);
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const n = i + 2;
        await page.setInputFiles('[data-testid=translate-input]', []);
        await page.setInputFiles('[data-testid=translate-input]', imagePath);
        await page.waitForFunction(
          (k) => Number(document.querySelector('[data-testid=translate-output]')?.getAttribute('data-count')) >= k,
          n,
          { timeout: 600_000, polling: 50 },
        );
        times.push(Number(await page.getAttribute('[data-testid=translate-output]', 'data-ms')));
      }
      rows.push({ backend, coldFirstMs, warmFirstMs, perImageMs: median(times) });
    } catch (e) {
      rows.push({ backend, coldFirstMs: null, warmFirstMs: null, perImageMs: null, note: (e as Error).message.split('\n')[0] });
    } finally {
      await browser.close();
    }
  }
} finally {
  await server.stop();
  await rm(tmp, { recursive: true, force: true });
}

const fmt = (v: number | null) => (v === null ? '—' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`);
const cliMs = median(cliTimes);
console.log(`\nBrowser translation, ${preset} preset (ngf ${config.generator.ngf}, ${config.generator.nBlocks} blocks), ${SIDE}×${SIDE}, median of ${runs}`);
console.log('backend (Chromium headless) | first translation, cold cache | first translation, warm cache | per image | vs CLI wasm');
console.log('---|---|---|---|---');
for (const r of rows)
  console.log(
    `${r.backend} | ${fmt(r.coldFirstMs)} | ${fmt(r.warmFirstMs)} | ${fmt(r.perImageMs)} | ${r.perImageMs ? (r.perImageMs / cliMs).toFixed(2) + '×' : r.note ?? ''}`,
  );
console.log(`CLI \`stripes translate\` wasm (Node) | | | ${fmt(cliMs)} | 1.00×`);
console.log('(WebGPU and WebGL here are SwiftShader, a CPU emulation: not a GPU measurement.)');
await mkdir(join(ROOT, 'bench/out'), { recursive: true });
await writeFile(
  join(ROOT, 'bench/out/browser.json'),
  JSON.stringify({ preset, side: SIDE, runs, cliWasmMs: cliMs, rows, at: new Date().toISOString() }, null, 2),
);
