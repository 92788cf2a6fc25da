/**
 * Generator forward latency, batch 1: TF.js (wasm and cpu backends in Node), ONNX Runtime at 1
 * and 2 intra-op threads on an ONNX export of the same weights, and PyTorch CPU (OpenBLAS) at 1
 * and 2 threads, all interleaved in one run (bench/lib/interleave.ts).
 *
 * scripts/export_onnx.py writes the weights once (bench/out/cache/<preset>/), as ONNX, as the
 * reference state_dict and in Stripes layout, with fixed inputs and PyTorch's outputs. Before
 * timing, every runtime's output on those inputs is compared with PyTorch's, so a runtime that
 * computes a different model shows up as a mismatch rather than as a speed.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor4D } from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { useBackend, type NodeBackend } from '../cli/tf-backend.ts';
import { generator } from '../shared/model/generator.ts';
import { presetConfig, type PresetName } from '../shared/model/config.ts';
import { readSafetensors, type SafetensorsTensor } from '../shared/weights/safetensors.ts';
import { generatorMacs } from './lib/flops.ts';
import { interleave, type Peer, type PeerResult } from './lib/interleave.ts';
import { summarize } from './lib/stats.ts';
import { formatLoad, sampleLoad } from './lib/load.ts';
import { PythonPeer, PYTHON, pythonEnv } from './lib/python-peer.ts';
import { fmtS, fmtX, type BenchTable } from './lib/table.ts';

const ROOT = new URL('../', import.meta.url).pathname;
/** Outputs further than this from PyTorch's mean a different model, not float rounding. */
const MAX_ABS_DIFF = 1e-3;

export interface ForwardOptions {
  quick?: boolean;
  preset?: PresetName;
  sizes?: number[];
  /** Sizes at which tfjs-cpu runs (once, timed while checking its output). */
  cpuSizes?: number[];
  log?: (msg: string) => void;
}

interface Plan {
  size: number;
  repeats: Record<string, number>;
  warmupTorch: number;
  budgetS: number;
}

/**
 * tfjs-cpu (plain JS kernels) takes minutes per full-preset run on this machine, so it gets one
 * run only: its output check, timed. By default it runs only at 128×128 and only in the full
 * mode; `cpuSizes` changes that.
 */
function plan(size: number, quick: boolean): Plan {
  // Fewer repeats where one run takes long; the budget stops tfjs-wasm early when the machine is
  // slower than planned, after at least 2 runs.
  const fast = quick ? 3 : size >= 256 ? 5 : 7;
  const wasm = quick ? 3 : size >= 256 ? 3 : 5;
  return {
    size,
    repeats: { 'tfjs-wasm': wasm, 'ORT 1T': fast, 'ORT 2T': fast, 'PyTorch 1T': fast, 'PyTorch 2T': fast },
    warmupTorch: 1,
    budgetS: quick ? 30 : 120,
  };
}

/**
 * Exports a generator (ONNX + safetensors + PyTorch's outputs, scripts/export_onnx.py) into `dir`
 * unless it is there with these sizes. `preset` names a teacher preset; `student` exports the
 * distilled mobile ResNet at that ngf and depth instead. Everything is made locally: nothing is
 * downloaded.
 */
export function ensureExport(dir: string, preset: PresetName, sizes: number[], log: (m: string) => void, student?: { ngf: number; nBlocks: number }): void {
  const io = join(dir, 'io.safetensors');
  const have = ['G.onnx', 'G.stripes.safetensors', 'G.ref.safetensors', 'io.safetensors'].every((f) => existsSync(join(dir, f)));
  if (have) {
    const meta = readSafetensors(readFileSync(io), io).metadata;
    const exported = JSON.parse(meta.sizes ?? '[]') as number[];
    if (sizes.every((s) => exported.includes(s))) return;
  }
  const g = student ?? presetConfig(preset).generator;
  const arch = student ? ['--arch', 'mobile'] : [];
  log(`exporting ${student ? `student (ngf ${g.ngf}, ${g.nBlocks} blocks)` : preset} generator (ONNX + safetensors) to ${dir} ...`);
  const r = spawnSync(
    PYTHON,
    [join(ROOT, 'scripts/export_onnx.py'), '--out-dir', dir, ...arch, '--ngf', String(g.ngf), '--blocks', String(g.nBlocks), '--sizes', sizes.join(',')],
    { env: pythonEnv(), encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`export_onnx.py failed: ${(r.stderr || r.stdout || String(r.error)).trim().split('\n').slice(-1)[0]}`);
}

function nhwcToNchw(x: Float32Array, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) for (let k = 0; k < c; k++) out[k * h * w + y * w + xx] = x[(y * w + xx) * c + k];
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export async function runForwardBench(opts: ForwardOptions = {}): Promise<BenchTable> {
  const log = opts.log ?? ((m: string) => console.log(m));
  const quick = opts.quick ?? false;
  const preset = opts.preset ?? 'full';
  const sizes = opts.sizes ?? (quick ? [128] : [256, 128]);
  const cpuSizes = opts.cpuSizes ?? (quick ? [] : [128]);
  const cfg = presetConfig(preset).generator;
  const dir = join(ROOT, 'bench/out/cache', preset);
  ensureExport(dir, preset, [256, 128, ...sizes].filter((s, i, a) => a.indexOf(s) === i), log);

  const weights = readSafetensors(readFileSync(join(dir, 'G.stripes.safetensors')), 'G.stripes.safetensors').tensors;
  const io = readSafetensors(readFileSync(join(dir, 'io.safetensors')), 'io.safetensors').tensors;
  const backends: NodeBackend[] = cpuSizes.length ? ['wasm', 'cpu'] : ['wasm'];
  const params = new Map<NodeBackend, Record<string, Tensor>>();
  for (const b of backends) {
    await useBackend(b);
    const p: Record<string, Tensor> = {};
    for (const [name, t] of weights) p[name] = tf.tensor(t.data, t.shape, 'float32');
    params.set(b, p);
  }
  const sessions = new Map<number, ort.InferenceSession>();
  for (const threads of [1, 2]) {
    sessions.set(
      threads,
      await ort.InferenceSession.create(join(dir, 'G.onnx'), {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      }),
    );
  }
  const torch = new PythonPeer();
  const rows: string[][] = [];
  const data: Record<string, unknown>[] = [];
  const notes: string[] = [];
  try {
    await torch.request({ op: 'forward_setup', dir });
    for (const size of sizes) {
      const p = plan(size, quick);
      const input = io.get(`input_${size}`) as SafetensorsTensor;
      const expected = io.get(`output_${size}`) as SafetensorsTensor;
      const inputNchw = nhwcToNchw(input.data, size, size, 3);
      const runTfjs = async (b: NodeBackend, x: Float32Array): Promise<{ s: number; y: Float32Array }> => {
        await tf.setBackend(b);
        const xt = tf.tensor4d(x, [1, size, size, 3]);
        const t0 = performance.now();
        const yt: Tensor4D = generator(params.get(b)!, cfg, xt);
        const y = (await yt.data()) as Float32Array;
        const s = (performance.now() - t0) / 1000;
        tf.dispose([xt, yt]);
        return { s, y };
      };
      const runOrt = async (threads: number, x: Float32Array): Promise<{ s: number; y: Float32Array }> => {
        const feeds = { input: new ort.Tensor('float32', x, [1, 3, size, size]) };
        const t0 = performance.now();
        const out = await sessions.get(threads)!.run(feeds);
        const s = (performance.now() - t0) / 1000;
        return { s, y: out.output.data as Float32Array };
      };

      // Correctness first (these runs are also each runtime's warm-up).
      log(`forward ${size}×${size}: checking outputs against PyTorch ...`);
      const diffs: Record<string, number> = {};
      const outs: Record<string, Float32Array> = {};
      let cpuRun: PeerResult | undefined;
      for (const b of backends) {
        if (b === 'cpu' && !cpuSizes.includes(size)) continue;
        const { s, y } = await runTfjs(b, input.data);
        outs[`tfjs-${b}`] = y;
        diffs[`tfjs-${b}`] = maxAbsDiff(y, expected.data);
        if (b === 'cpu') cpuRun = { name: 'tfjs-cpu', samples: [s], summary: summarize([s]), warmupS: [] };
      }
      const expectedNchw = nhwcToNchw(expected.data, size, size, 3);
      for (const t of [1, 2]) {
        const { y } = await runOrt(t, inputNchw);
        diffs[`ORT ${t}T`] = maxAbsDiff(y, expectedNchw);
        if (t === 1) outs.ort = y;
      }
      const wasmVsOrt = maxAbsDiff(nhwcToNchw(outs['tfjs-wasm'], size, size, 3), outs.ort);
      notes.push(`${size}×${size}: max |tfjs-wasm − ORT| = ${wasmVsOrt.toExponential(1)}`);
      diffs['PyTorch 1T'] = 0;
      diffs['PyTorch 2T'] = 0;

      const x = input.data;
      const peers: Peer[] = [
        { name: 'tfjs-wasm', run: async () => (await runTfjs('wasm', x)).s, warmup: 0, repeats: p.repeats['tfjs-wasm'], budgetS: p.budgetS, minRepeats: 2 },
        { name: 'ORT 1T', run: async () => (await runOrt(1, inputNchw)).s, warmup: 0, repeats: p.repeats['ORT 1T'] },
        { name: 'ORT 2T', run: async () => (await runOrt(2, inputNchw)).s, warmup: 0, repeats: p.repeats['ORT 2T'] },
        {
          name: 'PyTorch 1T',
          run: async () => (await torch.request<{ s: number }>({ op: 'forward', size, threads: 1 })).s,
          warmup: p.warmupTorch,
          repeats: p.repeats['PyTorch 1T'],
        },
        {
          name: 'PyTorch 2T',
          run: async () => (await torch.request<{ s: number }>({ op: 'forward', size, threads: 2 })).s,
          warmup: p.warmupTorch,
          repeats: p.repeats['PyTorch 2T'],
        },
      ];
      const before = sampleLoad();
      log(`forward ${size}×${size}: timing (${formatLoad(before)}) ...`);
      const results = await interleave(peers, log);
      if (cpuRun) results.splice(1, 0, cpuRun);
      else notes.push(`${size}×${size}: tfjs-cpu not run (minutes per run; \`--cpu-sizes ${size}\` runs it)`);
      const after = sampleLoad();
      const by = (n: string): PeerResult | undefined => results.find((r) => r.name === n);
      const ort1 = by('ORT 1T')?.summary?.median;
      const ort2 = by('ORT 2T')?.summary?.median;
      const gflop = (2 * generatorMacs(cfg, size, size)) / 1e9;
      const threadsOf = (n: string) => (/2T$/.test(n) ? 2 : 1);
      for (const r of results) {
        const m = r.summary?.median;
        const t = threadsOf(r.name);
        const d = diffs[r.name];
        rows.push([
          `${size}×${size}`,
          r.name,
          String(t),
          fmtS(m),
          fmtS(r.summary?.p99),
          String(r.summary?.n ?? 0),
          m ? (gflop / m).toFixed(1) : '—',
          m && ort1 ? fmtX((m * t) / ort1) : '—',
          m && ort2 ? fmtX(m / ort2) : '—',
          r.name.startsWith('PyTorch') ? 'reference' : `${d.toExponential(1)}${d > MAX_ABS_DIFF ? ' MISMATCH' : ''}`,
        ]);
        if (r.error) notes.push(`${size}×${size} ${r.name} failed: ${r.error}`);
        data.push({ size, peer: r.name, threads: t, gflop, samples: r.samples, warmup: r.warmupS, summary: r.summary, maxAbsDiffVsTorch: d, error: r.error });
      }
      notes.push(`${size}×${size}: ${formatLoad(before)} at start, ${after.loadavg[0].toFixed(2)} at end`);
    }
  } finally {
    await torch.close();
    for (const s of sessions.values()) await s.release();
    for (const p of params.values()) tf.dispose(Object.values(p));
  }
  notes.push(
    `${preset} preset (ngf ${cfg.ngf}, ${cfg.nBlocks} blocks), batch 1; ${(generatorMacs(cfg, 256, 256) / 1e9).toFixed(1)} GMAC at 256×256 (transposed convs on their input grid), GFLOP/s = 2·MAC / median`,
    '× ORT 1T (core-s) = median × threads / ORT 1-thread median (per-core cost); × ORT 2T = median / ORT 2-thread median (wall clock)',
    'interleaved: one run of each peer in turn; the first run of each Node runtime is its output check (untimed), PyTorch has 1 untimed warm-up; tfjs-cpu is one timed run (its output check), just before the interleaved runs',
    'PyTorch 1.13 (Debian) with OpenBLAS pthread, OMP_WAIT_POLICY=PASSIVE; ORT intra-op threads as named, inter-op 1, sequential; tfjs wasm is single-threaded in Node',
  );
  return {
    id: 'forward',
    title: `Generator forward, batch 1, ${preset} preset`,
    columns: ['size', 'runtime', 'threads', 'median s', 'p99 s', 'n', 'GFLOP/s', '× ORT 1T (core-s)', '× ORT 2T', 'max abs diff vs PyTorch'],
    rows,
    notes,
    data,
  };
}
