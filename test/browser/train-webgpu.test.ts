/**
 * Training on WebGPU is the product's main path: one training step of the tiny preset in the
 * browser's training worker on WebGPU (SwiftShader here, via --enable-unsafe-webgpu) must match
 * the same step on TF.js's cpu backend in the same browser: the losses and every updated weight.
 * The worker is the production build's own (web/src/lib/trainer.worker.ts), driven through its
 * message union, served from a fresh `vite build` by a small static server.
 */
import { readdir, readFile, rm, mkdtemp } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presetConfig } from '../../shared/model/config.ts';
import { normCancelledBias } from './reference.ts';
import { launchBrowser, type Browser } from './browser.ts';
import { ROOT } from './server.ts';

const MIME: Record<string, string> = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css', '.html': 'text/html' };

let dist: string;
let http: Server;
let url: string;
let browser: Browser;
let workerPath: string;

beforeAll(async () => {
  dist = await mkdtemp(join(tmpdir(), 'stripes-train-webgpu-'));
  // The trainer worker answers `checkStep` only in test builds.
  process.env.VITE_STRIPES_TEST_HOOKS = '1';
  await build({ configFile: join(ROOT, 'web/vite.config.ts'), logLevel: 'warn', build: { outDir: dist, emptyOutDir: true } });
  const worker = (await readdir(join(dist, 'assets'))).find((f) => /^trainer\.worker-.*\.js$/.test(f));
  if (!worker) throw new Error('the build has no trainer worker');
  workerPath = `/assets/${worker}`;
  http = createServer(async (req, res) => {
    const path = normalize(new URL(req.url!, 'http://x').pathname);
    try {
      const body = path.startsWith('/assets/') ? await readFile(join(dist, path)) : '<!doctype html><title>harness</title>';
      res.writeHead(200, { 'content-type': MIME[extname(path)] ?? 'text/html' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
  browser = await launchBrowser();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => (http ? http.close(r) : r(null)));
  if (dist) await rm(dist, { recursive: true, force: true });
});

const LR = 2e-4;
/** Float32 rounding of a ±lr step on weights of magnitude ~0.1 is ~1e-8; 1e-6 leaves room for gradients near ε. */
const TOL = 1e-6;

type Nets = Record<string, Record<string, number[]>>;
interface Checked {
  backend: string;
  losses: Record<string, number>;
  before: Nets;
  after: Nets;
}

/** One step of the tiny preset (seed 3, 32×32, lr 2e-4) in a fresh training worker on `backend`. */
async function stepOn(backend: 'webgpu' | 'cpu'): Promise<Checked> {
  const page = await browser.context.newPage();
  await page.goto(`${url}/harness`);
  const got = await page.evaluate(
    async ({ workerPath, backend, config, lr }) => {
      const w = new Worker(workerPath, { type: 'module' });
      const ask = (msg: object) =>
        new Promise<any>((resolve, reject) => {
          w.onmessage = (e) => (e.data.type === 'error' ? reject(new Error(e.data.message)) : resolve(e.data));
          w.onerror = (e) => reject(new Error(e.message));
          w.postMessage(msg);
        });
      await ask({ id: 1, type: 'setBackend', choice: backend });
      const r = await ask({ id: 2, type: 'checkStep', config, seed: 3, size: 32, lr });
      w.terminate();
      const plain = (nets: Record<string, Record<string, Float32Array>>) =>
        Object.fromEntries(Object.entries(nets).map(([n, ps]) => [n, Object.fromEntries(Object.entries(ps).map(([k, v]) => [k, Array.from(v)]))]));
      return { backend: r.backend, losses: r.losses, before: plain(r.before), after: plain(r.after) };
    },
    { workerPath, backend, config: presetConfig('tiny'), lr: LR },
  );
  await page.close();
  return got;
}

describe('a training step in the browser', () => {
  it('on WebGPU matches the cpu backend: losses and updated weights', async () => {
    const cpu = await stepOn('cpu');
    const gpu = await stepOn('webgpu');
    expect(cpu.backend).toBe('cpu');
    expect(gpu.backend).toBe('webgpu');

    // Losses: both backends compute in float32; summation order differs, so agree to ~1e-4 relative.
    expect(Object.keys(gpu.losses).sort()).toEqual(Object.keys(cpu.losses).sort());
    for (const [k, v] of Object.entries(cpu.losses)) expect(Math.abs(gpu.losses[k] - v), k).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(v)));

    // Weights: same start (JS-side init from the seed), then compare the step each backend took.
    // Adam's first step is lr·g/(|g|+ε) ≈ ±lr, so a weight's step agrees across backends unless
    // its gradient is at rounding-noise level. That is exactly the case for every conv bias that
    // feeds an instance norm: the norm subtracts the mean, so its true gradient is 0 and its step is
    // rounding noise scaled up to at most lr on any backend (PyTorch's too). Those are only bounded.
    const cancelled = normCancelledBias(presetConfig('tiny'));
    let n = 0;
    let worst = 0;
    let worstCancelled = 0;
    let moved = 0;
    for (const net of Object.keys(cpu.after)) {
      for (const p of Object.keys(cpu.after[net])) {
        const b0 = cpu.before[net][p];
        expect(gpu.before[net][p]).toEqual(b0);
        for (let i = 0; i < b0.length; i++) {
          const dc = cpu.after[net][p][i] - b0[i];
          const dg = gpu.after[net][p][i] - b0[i];
          if (cancelled(net, p)) {
            worstCancelled = Math.max(worstCancelled, Math.abs(dc), Math.abs(dg));
            continue;
          }
          worst = Math.max(worst, Math.abs(dc - dg));
          if (Math.abs(dc) > 0.5 * LR) moved++;
          n++;
        }
      }
    }
    console.log(`train-webgpu: ${n} weights compared, ${moved} moved by > lr/2; worst step difference ${worst.toExponential(2)}; norm-cancelled biases moved ≤ ${worstCancelled.toExponential(2)}`);
    // The step really moved the weights (a no-op on both sides would match trivially).
    expect(moved).toBeGreaterThan(0.9 * n);
    expect(worst).toBeLessThanOrEqual(TOL);
    expect(worstCancelled).toBeLessThanOrEqual(LR * (1 + 1e-5));
    expect(browser.errors).toEqual([]);
  });
});
