/**
 * One CycleGAN training iteration (G step + D step, batch 1) on TF.js wasm (with the wasm
 * training kernels that useBackend('wasm') registers), interleaved with PyTorch CPU doing the
 * reference's optimize_parameters (bench/py/peer.py: same losses, pools, Adam) at 2 threads and,
 * because 2 threads on a loaded 2-core machine say more about the load than about PyTorch, at 1.
 *
 * Run as a script (`node cli/run-ts.mjs bench/train-iter.ts [--quick] --json FILE`) it writes its
 * table to FILE: bench/run.ts runs it that way so training gets a wasm heap of its own.
 *
 * Both sides start from normal(0, 0.02) weights of the same shapes but from their own seeds:
 * this measures cost, which does not depend on the values (numerical parity is the train-step
 * test's job).
 */
import * as tf from '@tensorflow/tfjs-core';
import { writeFileSync } from 'node:fs';
import type { Tensor4D } from '@tensorflow/tfjs-core';
import { useBackend } from '../cli/tf-backend.ts';
import { mulberry32 } from '../shared/model/init.ts';
import { presetConfig, type PresetName } from '../shared/model/config.ts';
import { createCycleGAN, disposeCycleGAN, ImagePool, DEFAULT_POOL_SIZE, trainStep, CYCLEGAN_ADAM } from '../shared/train/index.ts';
import { interleave, type Peer } from './lib/interleave.ts';
import { formatLoad, sampleLoad } from './lib/load.ts';
import { PythonPeer } from './lib/python-peer.ts';
import { fmtS, fmtX, type BenchTable } from './lib/table.ts';

export interface TrainCase {
  preset: PresetName;
  size: number;
  /** Timed iterations of tfjs-wasm; PyTorch gets `torchRepeats`. */
  repeats: number;
  torchRepeats: number;
  /** Untimed first iterations (tfjs: kernel set-up and allocator; both: Adam's first step). */
  warmup: number;
}

export interface TrainOptions {
  quick?: boolean;
  cases?: TrainCase[];
  log?: (msg: string) => void;
}

export function defaultTrainCases(quick: boolean): TrainCase[] {
  if (quick) return [{ preset: 'small', size: 64, repeats: 3, torchRepeats: 3, warmup: 1 }];
  return [
    // First, on a fresh wasm heap: its first iteration grows the heap to ~2.7 GB, and after the
    // smaller cases had used the heap it aborted (wasm memory stops at 4 GiB and never shrinks).
    // tfjs-wasm takes minutes per iteration here: one timed run.
    { preset: 'full', size: 128, repeats: 1, torchRepeats: 2, warmup: 1 },
    { preset: 'small', size: 64, repeats: 5, torchRepeats: 7, warmup: 1 },
    { preset: 'full', size: 64, repeats: 3, torchRepeats: 4, warmup: 1 },
  ];
}

function randomImage(size: number, seed: number): Tensor4D {
  const rnd = mulberry32(seed);
  const v = new Float32Array(size * size * 3);
  for (let i = 0; i < v.length; i++) v[i] = rnd() * 2 - 1;
  return tf.tensor4d(v, [1, size, size, 3]);
}

export async function runTrainBench(opts: TrainOptions = {}): Promise<BenchTable> {
  const log = opts.log ?? ((m: string) => console.log(m));
  const cases = opts.cases ?? defaultTrainCases(opts.quick ?? false);
  await useBackend('wasm');
  const torch = new PythonPeer();
  const rows: string[][] = [];
  const notes: string[] = [];
  const data: Record<string, unknown>[] = [];
  try {
    for (const c of cases) {
      try {
        await runCase(c);
      } catch (e) {
        const msg = (e as Error).message.split('\n')[0];
        rows.push([c.preset, `${c.size}×${c.size}`, 'all', 'failed', '', '0', '', '']);
        notes.push(`${c.preset} ${c.size}×${c.size} failed: ${msg}`);
        log(`train ${c.preset} ${c.size}×${c.size}: failed: ${msg}`);
      }
    }
  } finally {
    await torch.close();
  }

  async function runCase(c: TrainCase): Promise<void> {
    {
      const cfg = presetConfig(c.preset);
      const key = `${c.preset}-${c.size}`;
      await torch.request({ op: 'train_setup', key, ngf: cfg.generator.ngf, blocks: cfg.generator.nBlocks, ndf: cfg.discriminator.ndf, size: c.size, seed: 0 });
      const model = createCycleGAN(cfg, { seed: 0 });
      const rng = mulberry32(1);
      const pools = { A: new ImagePool(DEFAULT_POOL_SIZE, rng), B: new ImagePool(DEFAULT_POOL_SIZE, rng) };
      const realA = randomImage(c.size, 2);
      const realB = randomImage(c.size, 3);
      const tensorsBefore = tf.memory().numTensors;
      try {
        const peers: Peer[] = [
          {
            name: 'tfjs-wasm',
            run: async () => {
              const t0 = performance.now();
              const losses = await trainStep(model, pools, realA, realB, { lr: CYCLEGAN_ADAM.lr });
              const s = (performance.now() - t0) / 1000;
              if (!Object.values(losses).every(Number.isFinite)) throw new Error('a loss is not finite');
              return s;
            },
            warmup: c.warmup,
            repeats: c.repeats,
          },
          ...[2, 1].map(
            (threads): Peer => ({
              name: `PyTorch ${threads}T`,
              run: async () => (await torch.request<{ s: number }>({ op: 'train', key, threads })).s,
              warmup: c.warmup,
              repeats: c.torchRepeats,
            }),
          ),
        ];
        const before = sampleLoad();
        log(`train ${c.preset} ${c.size}×${c.size}: timing (${formatLoad(before)}) ...`);
        const results = await interleave(peers, log);
        const after = sampleLoad();
        const grown = tf.memory().numTensors - tensorsBefore - pools.A.count - pools.B.count;
        if (grown !== 0 && !results.some((r) => r.error)) notes.push(`${key}: tfjs tensor count changed by ${grown} beyond the pools' images over the iterations`);
        const t2 = results.find((r) => r.name === 'PyTorch 2T')?.summary?.median;
        const t1 = results.find((r) => r.name === 'PyTorch 1T')?.summary?.median;
        for (const r of results) {
          const m = r.summary?.median;
          if (r.error && /Aborted/.test(r.error)) r.error += ' (the wasm module aborted, most likely out of heap: 4 GiB at most)';
          rows.push([
            c.preset,
            `${c.size}×${c.size}`,
            r.name,
            r.error && !m ? 'failed' : fmtS(m),
            fmtS(r.summary?.p99),
            String(r.summary?.n ?? 0),
            m && t2 ? fmtX(m / t2) : '—',
            m && t1 ? fmtX(m / t1) : '—',
          ]);
          if (r.error) notes.push(`${key} ${r.name} failed: ${r.error}`);
          data.push({ preset: c.preset, size: c.size, peer: r.name, samples: r.samples, warmup: r.warmupS, summary: r.summary, error: r.error });
        }
        notes.push(`${c.preset} ${c.size}×${c.size}: ${formatLoad(before)} at start, ${after.loadavg[0].toFixed(2)} at end; ${c.warmup} untimed warm-up iteration each`);
      } finally {
        try {
          tf.dispose([realA, realB]);
          pools.A.dispose();
          pools.B.dispose();
          disposeCycleGAN(model);
        } catch {
          // The wasm module may have aborted; there is nothing left to free.
        }
      }
    }
  }
  notes.push(
    'one iteration = G_AB+G_BA step (GAN + cycle + identity losses, Adam) then D_A+D_B step (pooled fakes, Adam), batch 1, as the reference optimize_parameters',
    'interleaved: tfjs-wasm, PyTorch 2T, PyTorch 1T, one iteration each in turn; PyTorch 1.13 (Debian) with OpenBLAS pthread, OMP_WAIT_POLICY=PASSIVE',
  );
  return {
    id: 'train',
    title: 'One training iteration (G + D step), batch 1',
    columns: ['preset', 'size', 'runtime', 'median s', 'p99 s', 'n', '× PyTorch 2T', '× PyTorch 1T'],
    rows,
    notes,
    data,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--json');
  if (i < 0 || !process.argv[i + 1]) throw new Error('train-iter: --json FILE is required when run as a script');
  const table = await runTrainBench({ quick: process.argv.includes('--quick'), log: (m) => console.error(m) });
  writeFileSync(process.argv[i + 1], JSON.stringify(table));
}
