/**
 * The CLI's handle on a training run: the shared CycleGAN step (shared/train) on a Node backend,
 * fed plain arrays, with everything a checkpoint needs to resume exactly coming out as arrays:
 * the four networks' weights, both Adam optimizers (moments and step counts), the two image
 * history pools and the pools' random stream.
 *
 * The pools draw from their own seeded stream, apart from the data's, so that changing how data
 * is drawn never changes which fakes a discriminator sees, and the other way round.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor4D } from '@tensorflow/tfjs-core';
import type { ModelConfig } from '../../shared/model/config.ts';
import { CYCLEGAN_ADAM, type AdamState } from '../../shared/train/adam.ts';
import {
  createCycleGAN,
  disposeCycleGAN,
  exportTrainingState,
  exportWeights,
  importTrainingState,
  type CycleGAN,
  type NetworkWeights,
  type TrainingState,
} from '../../shared/train/cyclegan.ts';
import { DEFAULT_POOL_SIZE, ImagePool } from '../../shared/train/image-pool.ts';
import { learningRate } from '../../shared/train/schedule.ts';
import { trainStep, visuals, type FakePools, type Losses } from '../../shared/train/train-step.ts';
import { readSafetensors, writeSafetensors } from '../../shared/weights/safetensors.ts';
import { useBackend, type NodeBackend } from '../tf-backend.ts';
import { ParallelCycleGAN } from './parallel.ts';
import { CYCLEGAN_LOSS_WEIGHTS } from '../../shared/train/train-step.ts';
import type { Batch } from '../../shared/train/sampling.ts';
import type { SampleName } from './report.ts';
import { Rng, type RngState } from '../../shared/train/rng.ts';

/** The JSON half of a trainer's state; its arrays travel in `TrainerSnapshot.tensors`. */
export interface TrainerMeta {
  poolRng: RngState;
  /** Adam step counts, by optimizer and parameter key. */
  steps: { G: Record<string, number>; D: Record<string, number> };
  /** Images stored in each pool (their pixels are tensors `pool.A/0`, …). */
  pools: { A: number; B: number };
}

export interface TrainerSnapshot {
  weights: NetworkWeights;
  /** Optimizer moments and pool images, as safetensors. */
  tensors: Uint8Array;
  meta: TrainerMeta;
}

export interface Trainer {
  readonly backend: string;
  /** Iteration `iterIndex` (0-based) of the run, at the schedule's learning rate for it. */
  step(batch: Batch, iterIndex: number): Promise<Losses>;
  /** Worker threads training (1: this thread, no workers). */
  readonly threads: number;
  /** The report's six images for one A and one B image (crop×crop×3, [-1, 1]). */
  samples(a: Float32Array, b: Float32Array, size: number): Promise<Record<SampleName, Float32Array>>;
  snapshot(): Promise<TrainerSnapshot>;
  dispose(): Promise<void>;
}

export interface TrainerOptions {
  backend: NodeBackend;
  config: ModelConfig;
  seed: number;
  totalIters: number;
  /**
   * Cores to train on: 1 runs the step on this thread; N > 1 splits every iteration across N
   * worker threads (cli/train/parallel.ts, wasm only) with bit-identical results.
   */
  threads?: number;
  /** Continue a run: its weights (from the checkpoint's groups) and its snapshot. */
  resumeFrom?: { weights: NetworkWeights; meta: TrainerMeta; tensors: Uint8Array };
}

/** A second stream from the run's seed, for the pools. */
const POOL_STREAM = 0x9e3779b9;

function encodeState(opt: { G: AdamState; D: AdamState }, pools: Record<'A' | 'B', { shape: number[]; data: Float32Array }[]>): Uint8Array {
  const tensors: Array<{ name: string; shape: number[]; data: Float32Array }> = [];
  for (const which of ['G', 'D'] as const)
    for (const [key, s] of Object.entries(opt[which])) {
      tensors.push({ name: `adam.${which}/${key}/m`, shape: [s.m.length], data: s.m });
      tensors.push({ name: `adam.${which}/${key}/v`, shape: [s.v.length], data: s.v });
    }
  for (const side of ['A', 'B'] as const) pools[side].forEach((im, i) => tensors.push({ name: `pool.${side}/${i}`, shape: im.shape, data: im.data }));
  return writeSafetensors(tensors, { format: 'stripes-trainer-state' });
}

function decodeState(bytes: Uint8Array, meta: TrainerMeta) {
  const { tensors } = readSafetensors(bytes, 'training state');
  const get = (name: string) => {
    const t = tensors.get(name);
    if (!t) throw new Error(`training state: tensor "${name}" is missing`);
    return t;
  };
  const optimizer = { G: {} as AdamState, D: {} as AdamState };
  for (const which of ['G', 'D'] as const)
    for (const [key, step] of Object.entries(meta.steps[which]))
      optimizer[which][key] = { step, m: get(`adam.${which}/${key}/m`).data, v: get(`adam.${which}/${key}/v`).data };
  const pools = { A: [] as { shape: number[]; data: Float32Array }[], B: [] as { shape: number[]; data: Float32Array }[] };
  for (const side of ['A', 'B'] as const)
    for (let i = 0; i < meta.pools[side]; i++) {
      const t = get(`pool.${side}/${i}`);
      pools[side].push({ shape: t.shape, data: t.data });
    }
  return { optimizer, pools };
}

export async function openTrainer(o: TrainerOptions): Promise<Trainer> {
  const backend = await useBackend(o.backend);
  const threads = o.threads ?? 1;
  if (threads > 1 && o.backend !== 'wasm') throw new Error(`training on ${threads} threads needs the wasm backend, not ${o.backend}`);
  const poolRng = new Rng((o.seed ^ POOL_STREAM) >>> 0);
  const random = () => poolRng.random();
  let model: CycleGAN;
  const pools: FakePools = { A: new ImagePool(DEFAULT_POOL_SIZE, random), B: new ImagePool(DEFAULT_POOL_SIZE, random) };
  let optimizer: { G: AdamState; D: AdamState } | undefined;
  if (o.resumeFrom) {
    const { weights, meta, tensors } = o.resumeFrom;
    const { optimizer: savedOptimizer, pools: saved } = decodeState(tensors, meta);
    optimizer = savedOptimizer;
    model = createCycleGAN(o.config, { weights });
    try {
      importTrainingState(model, { weights, optimizer });
      pools.A.restore(saved.A);
      pools.B.restore(saved.B);
      poolRng.restore(meta.poolRng);
    } catch (e) {
      disposeCycleGAN(model);
      pools.A.dispose();
      pools.B.dispose();
      throw e;
    }
  } else {
    model = createCycleGAN(o.config, { seed: o.seed });
  }

  const snapshotOf = async (st: TrainingState): Promise<TrainerSnapshot> => {
    const poolData = { A: await pools.A.snapshot(), B: await pools.B.snapshot() };
    const steps = (s: AdamState) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.step]));
    return {
      weights: st.weights,
      tensors: encodeState(st.optimizer, poolData),
      meta: { poolRng: poolRng.state(), steps: { G: steps(st.optimizer.G), D: steps(st.optimizer.D) }, pools: { A: poolData.A.length, B: poolData.B.length } },
    };
  };

  if (threads > 1) {
    // The workers take the weights (and optimizer state) from this thread's model, then it goes.
    let team: ParallelCycleGAN;
    try {
      team = await ParallelCycleGAN.open({ threads, config: model.config, adam: CYCLEGAN_ADAM, weights: await exportWeights(model), optimizer, lambdas: CYCLEGAN_LOSS_WEIGHTS });
    } catch (e) {
      pools.A.dispose();
      pools.B.dispose();
      throw e;
    } finally {
      disposeCycleGAN(model);
    }
    return {
      backend,
      threads: team.threads,
      step(batch, iterIndex) {
        const image = (data: Float32Array) => ({ data, shape: batch.shape as [number, number, number, number] });
        return team.step(tf, image(batch.a), image(batch.b), pools, learningRate(iterIndex, o.totalIters, CYCLEGAN_ADAM.lr));
      },
      async samples(a, b, size) {
        const shape: [number, number, number, number] = [1, size, size, 3];
        const v = await team.visuals({ data: a, shape }, { data: b, shape });
        return { real_A: a, fake_B: v.fake_B, rec_A: v.rec_A, real_B: b, fake_A: v.fake_A, rec_B: v.rec_B };
      },
      async snapshot() {
        return snapshotOf(await team.exportState());
      },
      async dispose() {
        pools.A.dispose();
        pools.B.dispose();
        await team.dispose();
      },
    };
  }

  return {
    backend,
    threads: 1,
    async step(batch, iterIndex) {
      const realA = tf.tensor4d(batch.a, batch.shape);
      const realB = tf.tensor4d(batch.b, batch.shape);
      try {
        return await trainStep(model, pools, realA, realB, { lr: learningRate(iterIndex, o.totalIters, CYCLEGAN_ADAM.lr) });
      } finally {
        realA.dispose();
        realB.dispose();
      }
    },
    async samples(a, b, size) {
      return tf.tidy(() => {
        const realA = tf.tensor4d(a, [1, size, size, 3]) as Tensor4D;
        const realB = tf.tensor4d(b, [1, size, size, 3]) as Tensor4D;
        const v = visuals(model, realA, realB);
        const read = (t: Tensor4D) => t.dataSync() as Float32Array;
        return { real_A: a, fake_B: read(v.fakeB), rec_A: read(v.recA), real_B: b, fake_A: read(v.fakeA), rec_B: read(v.recB) };
      });
    },
    async snapshot() {
      return snapshotOf(await exportTrainingState(model));
    },
    async dispose() {
      pools.A.dispose();
      pools.B.dispose();
      disposeCycleGAN(model);
    },
  };
}
