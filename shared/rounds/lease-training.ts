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
import { GENERATORS, NETWORKS, type ModelConfig } from '../model/config.ts';
import { createCycleGAN, disposeCycleGAN, exportWeights, slotKey, type CycleGAN } from '../train/cyclegan.ts';
import { CYCLEGAN_ADAM, type AdamConfig, type AdamState } from '../train/adam.ts';
import { DEFAULT_POOL_SIZE, ImagePool } from '../train/image-pool.ts';
import { Rng } from '../train/rng.ts';
import { referenceLoadSize, type Batch } from '../train/sampling.ts';
import { trainStep, type FakePools, type Gradients, type Losses, type LossWeights } from '../train/train-step.ts';
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
  /** The live model, for previews; do not keep or dispose it. Absent when the stepper keeps it off this thread. */
  model?: CycleGAN;
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
  /** Takes the steps (default `oneThreadStepper`; `stripes contribute --threads N` passes worker threads). */
  stepper?: LeaseStepperFactory;
  now?: () => number;
}

export function stepsFor(train: TrainSettings, budget: LeaseBudget = {}): number {
  const n = Math.min(train.steps, budget.steps ?? Infinity);
  if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`lease budget: steps must be a positive integer, got ${budget.steps}`);
  return n;
}

/**
 * The lease's gradient adjustments, each per network (so whoever takes a network's optimizer step
 * can apply them alone): the proximal pull 2μ(w − w_base) added elementwise, then, for SGD, the
 * network's whole gradient scaled down to norm `clip` when it is longer. Undefined when off.
 */
export interface GradientRules {
  proximal: number;
  clip: number;
}

export function gradientRules(train: TrainSettings): GradientRules | undefined {
  const proximal = train.proximal ?? 0;
  const clip = train.optimizer === 'sgd' ? train.gradClip : Infinity;
  return proximal === 0 && clip === Infinity ? undefined : { proximal, clip };
}

/**
 * One network's summed gradient, adjusted by `rules` before its optimizer step. `keys` are the
 * network's parameter keys (`${net}/${param}`) in the network's parameter order, which fixes the
 * order of the norm's sum; `weight` and `base` give a key's current and base values (`base` only
 * with a proximal term). Returns a new map; tensors it made are the caller's to free (those not
 * in `grads`).
 */
export function adjustNetworkGradients(
  rules: GradientRules,
  grads: Gradients,
  keys: readonly string[],
  weight: (key: string) => Tensor,
  base: (key: string) => Tensor,
): Gradients {
  const out: Gradients = { ...grads };
  const mu = rules.proximal;
  if (mu > 0) {
    // d/dw μ‖w − w_base‖² = 2μ(w − w_base)
    for (const key of keys) out[key] = tf.tidy(() => tf.add(grads[key], tf.mul(tf.sub(weight(key), base(key)), 2 * mu)));
  }
  if (rules.clip !== Infinity) {
    const norm = tf.tidy(() => Math.sqrt(tf.addN(keys.map((k) => tf.sum(tf.square(out[k])))).dataSync()[0]));
    if (norm > rules.clip) {
      for (const k of keys) {
        const prev = out[k];
        out[k] = tf.mul(prev, rules.clip / norm);
        if (prev !== grads[k]) prev.dispose();
      }
    }
  }
  return out;
}

/** Gradient adjustments from the lease for `trainStep`: each network of a group in turn. */
function gradientAdjuster(model: CycleGAN, rules: GradientRules | undefined, baseVars: Map<string, Tensor>) {
  if (!rules) return undefined;
  return (group: 'G' | 'D', grads: Gradients): Gradients => {
    let out: Gradients = grads;
    const nets = group === 'G' ? GENERATORS : NETWORKS.filter((n) => !(GENERATORS as readonly string[]).includes(n));
    for (const net of nets) {
      const keys = Object.keys(model.nets[net]).map((p) => slotKey(net, p));
      const mine = Object.fromEntries(keys.map((k) => [k, grads[k]]));
      out = { ...out, ...adjustNetworkGradients(rules, mine, keys, (k) => model.nets[net][k.slice(net.length + 1)], (k) => baseVars.get(k)!) };
    }
    return out;
  };
}

/** How a lease takes its steps: on this thread (`oneThreadStepper`) or elsewhere (e.g. worker threads). */
export interface LeaseStepper {
  /** One iteration at `lr`, as `trainStep` with the lease's gradient rules; `pools` are the caller's. */
  step(batch: Batch, pools: FakePools, lr: number): Promise<Losses>;
  /** The live model, where this thread holds one (for previews). */
  readonly model?: CycleGAN;
  /** The current weights of the four networks. */
  weights(): Promise<Weights>;
  dispose(): Promise<void>;
}

export interface LeaseStepperInit {
  config: ModelConfig;
  base: Weights;
  optimizer: AdamConfig;
  /** Moments to start from instead of zeros. */
  optimizerState?: { G: AdamState; D: AdamState };
  lambdas: LossWeights;
  /** Applied to each network's gradient before its optimizer step (relative to `base`). */
  rules?: GradientRules;
}

export type LeaseStepperFactory = (o: LeaseStepperInit) => Promise<LeaseStepper>;

/** The lease's steps on this thread, with `trainStep`. */
export const oneThreadStepper: LeaseStepperFactory = async (o) => {
  const model = createCycleGAN(o.config, { weights: o.base }, o.optimizer);
  const baseVars = new Map<string, Tensor>();
  try {
    if (o.optimizerState) {
      model.optG.importState(o.optimizerState.G);
      model.optD.importState(o.optimizerState.D);
    }
    if ((o.rules?.proximal ?? 0) > 0)
      for (const net of NETWORKS) for (const [p, v] of Object.entries(model.nets[net])) baseVars.set(slotKey(net, p), tf.clone(v));
  } catch (e) {
    disposeCycleGAN(model);
    throw e;
  }
  const adjustGradients = gradientAdjuster(model, o.rules, baseVars);
  return {
    model,
    async step(batch, pools, lr) {
      const realA = tf.tensor4d(batch.a, batch.shape);
      const realB = tf.tensor4d(batch.b, batch.shape);
      try {
        return await trainStep(model, pools, realA, realB, { lr, lambdas: o.lambdas, adjustGradients });
      } finally {
        realA.dispose();
        realB.dispose();
      }
    },
    async weights() {
      return (await exportWeights(model)) as Weights;
    },
    async dispose() {
      disposeCycleGAN(model);
      for (const v of baseVars.values()) v.dispose();
    },
  };
};

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
  const rng = new Rng(o.seed);
  const random = () => rng.random();
  const stepper = await (o.stepper ?? oneThreadStepper)({
    config: o.config,
    base: o.base,
    optimizer: { lr: t.lr, beta1: t.beta1, beta2: t.beta2, eps: CYCLEGAN_ADAM.eps, rule: t.optimizer, correctFirstMoment: o.correctFirstMoment ?? true },
    optimizerState: o.optimizerState,
    lambdas: { lambdaA: t.lambdaCycle, lambdaB: t.lambdaCycle, lambdaIdentity: t.lambdaIdentity },
    rules: gradientRules(t),
  });
  const pools = { A: new ImagePool(DEFAULT_POOL_SIZE, random), B: new ImagePool(DEFAULT_POOL_SIZE, random) };
  const sums: Record<string, number> = {};
  const started = now();
  let done = 0;
  try {
    while (done < steps && (done === 0 || (now() < deadline && o.stop?.mode == null))) {
      const batch = o.batches.next(t.batchSize, t.cropSize);
      const lr = innerStepLr(t, done + 1);
      const losses = await stepper.step(batch, pools, lr);
      done++;
      for (const [k, v] of Object.entries(losses)) {
        if (!Number.isFinite(v)) throw new LeaseDiverged(`training diverged at step ${done}: ${k} is ${v}; nothing was uploaded`);
        sums[k] = (sums[k] ?? 0) + v;
      }
      await o.onStep?.({ step: done, of: steps, lr, losses, elapsedMs: now() - started, model: stepper.model });
    }
    if (o.stop?.mode === 'discard') throw new LeaseDiscarded(done);
    return {
      weights: await stepper.weights(),
      steps: done,
      samples: done * t.batchSize,
      losses: Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / done])),
    };
  } finally {
    pools.A.dispose();
    pools.B.dispose();
    await stepper.dispose();
  }
}
