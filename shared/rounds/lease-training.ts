/**
 * The one inner loop of a community round: what a contributor does between fetching the base
 * version and uploading its delta. `stripes contribute` (cli/commands/contribute.ts), the
 * browser's training worker (web/src/lib/trainer.worker.ts) and the simulation
 * (test/rounds/simulate.ts) all call `trainLease`, so they train the same way: the lease's
 * settings (optimizer, lr with its warm-up, proximal term, λs, crop, batch), the reference's
 * 50-image fake pools drawn from a seeded stream, a budget in steps and/or time, and a stop
 * signal that either keeps the steps done (upload them) or discards them.
 *
 * Backend-free: the caller has chosen and readied a TF.js backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import { GENERATORS, NETWORKS, type ModelConfig, type NetworkName } from '../model/config.ts';
import { createCycleGAN, disposeCycleGAN, exportWeights, type CycleGAN } from '../train/cyclegan.ts';
import { CYCLEGAN_ADAM, type AdamState } from '../train/adam.ts';
import { DEFAULT_POOL_SIZE, ImagePool } from '../train/image-pool.ts';
import { Rng } from '../train/rng.ts';
import { referenceLoadSize, type Batch } from '../train/sampling.ts';
import { trainStep, type Gradients, type Losses } from '../train/train-step.ts';
import type { LocalTraining, Weights } from './client.ts';
import type { TrainSettings } from './protocol.ts';

/** Where the contributor's batches come from (images already decoded at `loadSizeFor(train)`). */
export interface BatchSource {
  next(batchSize: number, cropSize: number): Batch;
}

/** The size contributors resize images to before cropping, for a lease's settings. */
export function loadSizeFor(train: TrainSettings): number {
  const load = train.loadSize ?? referenceLoadSize(train.cropSize);
  if (load < train.cropSize) throw new RangeError(`lease: loadSize ${load} is smaller than cropSize ${train.cropSize}`);
  return load;
}

/** The inner lr of step `k` (1-based) of a lease: the lease's lr, ramped over its warm-up. */
export function innerStepLr(train: Pick<TrainSettings, 'lr' | 'warmupSteps'>, k: number): number {
  const w = train.warmupSteps ?? 0;
  return w > 0 ? train.lr * Math.min(1, k / w) : train.lr;
}

export type StopMode = 'upload' | 'discard';

/** Set from outside (a Stop button, Ctrl-C) while a lease trains; read between steps. */
export class StopSignal {
  #mode: StopMode | null = null;
  get mode(): StopMode | null {
    return this.#mode;
  }
  /** 'upload' keeps the steps done so far (at least one is always taken); 'discard' throws them away. */
  stop(mode: StopMode): void {
    this.#mode ??= mode;
  }
}

/** Thrown by `trainLease` when the stop signal said 'discard': nothing is to be uploaded. */
export class LeaseDiscarded extends Error {
  override name = 'LeaseDiscarded';
  constructor(readonly steps: number) {
    super(`stopped after ${steps} step${steps === 1 ? '' : 's'}; they were discarded and nothing was uploaded`);
  }
}

/** Thrown when a loss stops being finite: nothing is to be uploaded. */
export class LeaseDiverged extends Error {
  override name = 'LeaseDiverged';
}

export interface LeaseBudget {
  /** At most this many steps (the lease's K is the cap whatever this says). */
  steps?: number;
  /** Stop starting new steps once this long has passed (the first step always runs). */
  ms?: number;
}

export interface StepReport {
  step: number;
  /** The steps this lease will take if nothing stops it early. */
  of: number;
  lr: number;
  losses: Losses;
  elapsedMs: number;
  /** The live model, for previews; do not keep or dispose it. */
  model: CycleGAN;
}

export interface LeaseTrainingInput {
  config: ModelConfig;
  base: Weights;
  train: TrainSettings;
  batches: BatchSource;
  /** Seeds the fake pools' random stream (crops and flips are the batch source's). */
  seed: number;
  budget?: LeaseBudget;
  stop?: StopSignal;
  onStep?: (r: StepReport) => void | Promise<void>;
  /** Moments to start from instead of zeros (e.g. a trainer's own, carried between leases). */
  optimizerState?: { G: AdamState; D: AdamState };
  /** Leaves Adam's first moment uncorrected (an experiment; see shared/train/adam.ts). */
  correctFirstMoment?: boolean;
  now?: () => number;
}

export function stepsFor(train: TrainSettings, budget: LeaseBudget = {}): number {
  const n = Math.min(train.steps, budget.steps ?? Infinity);
  if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`lease budget: steps must be a positive integer, got ${budget.steps}`);
  return n;
}

/** Gradient adjustments from the lease: the proximal pull towards the base, SGD's clipping. */
function gradientAdjuster(model: CycleGAN, train: TrainSettings, baseVars: Map<string, Tensor>) {
  const mu = train.proximal ?? 0;
  const clip = train.optimizer === 'sgd' ? train.gradClip : Infinity;
  if (mu === 0 && clip === Infinity) return undefined;
  return (group: 'G' | 'D', grads: Gradients): Gradients => {
    const out: Gradients = { ...grads };
    if (mu > 0) {
      for (const [key, g] of Object.entries(grads)) {
        const [net, param] = splitKey(key);
        const w = model.nets[net][param];
        // d/dw μ‖w − w_base‖² = 2μ(w − w_base)
        out[key] = tf.tidy(() => tf.add(g, tf.mul(tf.sub(w, baseVars.get(key)!), 2 * mu)));
      }
    }
    if (clip !== Infinity) {
      const nets = group === 'G' ? GENERATORS : NETWORKS.filter((n) => !(GENERATORS as readonly string[]).includes(n));
      for (const net of nets) {
        const keys = Object.keys(out).filter((k) => k.startsWith(`${net}/`));
        const norm = tf.tidy(() => Math.sqrt(tf.addN(keys.map((k) => tf.sum(tf.square(out[k])))).dataSync()[0]));
        if (norm > clip) {
          for (const k of keys) {
            const prev = out[k];
            out[k] = tf.mul(prev, clip / norm);
            if (prev !== grads[k]) prev.dispose();
          }
        }
      }
    }
    return out;
  };
}

function splitKey(key: string): [NetworkName, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i) as NetworkName, key.slice(i + 1)];
}

/**
 * Trains the four networks from `base` with the lease's settings and returns the local weights
 * (the delta is theirs minus the base). Fresh optimizer state unless `optimizerState` is given.
 * Throws LeaseDiscarded when stopped with 'discard', LeaseDiverged on a non-finite loss.
 */
export async function trainLease(o: LeaseTrainingInput): Promise<LocalTraining> {
  const t = o.train;
  const now = o.now ?? (() => performance.now());
  const steps = stepsFor(t, o.budget);
  const deadline = o.budget?.ms !== undefined ? now() + o.budget.ms : Infinity;
  const model = createCycleGAN(o.config, { weights: o.base }, {
    lr: t.lr,
    beta1: t.beta1,
    beta2: t.beta2,
    eps: CYCLEGAN_ADAM.eps,
    rule: t.optimizer,
    correctFirstMoment: o.correctFirstMoment ?? true,
  });
  if (o.optimizerState) {
    model.optG.importState(o.optimizerState.G);
    model.optD.importState(o.optimizerState.D);
  }
  const rng = new Rng(o.seed);
  const random = () => rng.random();
  const pools = { A: new ImagePool(DEFAULT_POOL_SIZE, random), B: new ImagePool(DEFAULT_POOL_SIZE, random) };
  const baseVars = new Map<string, Tensor>();
  if ((t.proximal ?? 0) > 0)
    for (const net of NETWORKS) for (const [p, v] of Object.entries(model.nets[net])) baseVars.set(`${net}/${p}`, tf.clone(v));
  const adjustGradients = gradientAdjuster(model, t, baseVars);
  const lambdas = { lambdaA: t.lambdaCycle, lambdaB: t.lambdaCycle, lambdaIdentity: t.lambdaIdentity };
  const sums: Record<string, number> = {};
  const started = now();
  let done = 0;
  try {
    while (done < steps && (done === 0 || (now() < deadline && o.stop?.mode == null))) {
      const batch = o.batches.next(t.batchSize, t.cropSize);
      const realA = tf.tensor4d(batch.a, batch.shape);
      const realB = tf.tensor4d(batch.b, batch.shape);
      const lr = innerStepLr(t, done + 1);
      let losses: Losses;
      try {
        losses = await trainStep(model, pools, realA, realB, { lr, lambdas, adjustGradients });
      } finally {
        realA.dispose();
        realB.dispose();
      }
      done++;
      for (const [k, v] of Object.entries(losses)) {
        if (!Number.isFinite(v)) throw new LeaseDiverged(`training diverged at step ${done}: ${k} is ${v}; nothing was uploaded`);
        sums[k] = (sums[k] ?? 0) + v;
      }
      await o.onStep?.({ step: done, of: steps, lr, losses, elapsedMs: now() - started, model });
    }
    if (o.stop?.mode === 'discard') throw new LeaseDiscarded(done);
    return {
      weights: (await exportWeights(model)) as Weights,
      steps: done,
      samples: done * t.batchSize,
      losses: Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / done])),
    };
  } finally {
    disposeCycleGAN(model);
    pools.A.dispose();
    pools.B.dispose();
    for (const v of baseVars.values()) v.dispose();
  }
}
