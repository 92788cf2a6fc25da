/**
 * One CycleGAN training iteration, exactly as the reference's `optimize_parameters`
 * (models/cycle_gan_model.py):
 *
 * 1. forward: fake_B = G(real_A), rec_A = F(fake_B), fake_A = F(real_B), rec_B = G(fake_A);
 * 2. generator step, discriminators frozen:
 *    loss_G = LSGAN(D_Y(fake_B), real) + LSGAN(D_X(fake_A), real)
 *           + λ_A·L1(rec_A, real_A) + λ_B·L1(rec_B, real_B)
 *           + λ_B·λ_idt·L1(G(real_B), real_B) + λ_A·λ_idt·L1(F(real_A), real_A)
 *    then one Adam step of G and F only;
 * 3. discriminator step: each D's loss is ½·(LSGAN(D(real), real) + LSGAN(D(pool(fake)), fake))
 *    with the fakes of step 1 (detached) passed through that domain's history pool; one Adam
 *    step of D_X and D_Y only.
 *
 * Loss names are the reference's, so curves compare with its logs. Its "A" networks are
 * Stripes's G_AB and the discriminator judging domain B:
 *
 *   D_A      ½(MSE(D_B(real_B),1) + MSE(D_B(pool_B(fake_B)),0))   D_Y's loss
 *   G_A      MSE(D_B(fake_B), 1)                                   G's adversarial loss
 *   cycle_A  λ_A·L1(G_BA(G_AB(real_A)), real_A)
 *   idt_A    λ_B·λ_idt·L1(G_AB(real_B), real_B)
 *   D_B      ½(MSE(D_A(real_A),1) + MSE(D_A(pool_A(fake_A)),0))   D_X's loss
 *   G_B      MSE(D_A(fake_A), 1)                                   F's adversarial loss
 *   cycle_B  λ_B·L1(G_AB(G_BA(real_B)), real_B)
 *   idt_B    λ_A·λ_idt·L1(G_BA(real_A), real_A)
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Scalar, Tensor, Tensor4D, Variable } from '@tensorflow/tfjs-core';
import { discriminator, generator, type NetworkName } from '../model/index.ts';
import type { CycleGAN } from './cyclegan.ts';
import { slotKey } from './cyclegan.ts';
import type { ImagePool } from './image-pool.ts';
import { l1, lsgan } from './losses.ts';
import { clearWasmKernelCaches } from '../tfjs/wasm-kernels.ts';

export interface LossWeights {
  /** Cycle loss weight for A → B → A (10 in the paper). */
  lambdaA: number;
  /** Cycle loss weight for B → A → B (10 in the paper). */
  lambdaB: number;
  /** Identity loss weight, relative to λ (0.5 in the reference; 0 turns identity off). */
  lambdaIdentity: number;
}

export const CYCLEGAN_LOSS_WEIGHTS: LossWeights = { lambdaA: 10, lambdaB: 10, lambdaIdentity: 0.5 };

export const LOSS_NAMES = ['D_A', 'G_A', 'cycle_A', 'idt_A', 'D_B', 'G_B', 'cycle_B', 'idt_B'] as const;
export type LossName = (typeof LOSS_NAMES)[number];
export type Losses = Record<LossName, number>;

export type GeneratorLossName = 'G_A' | 'G_B' | 'cycle_A' | 'cycle_B' | 'idt_A' | 'idt_B';
export type DiscriminatorLossName = 'D_A' | 'D_B';

/** The history pools of fakes, by the domain of the images they hold. */
export interface FakePools {
  A: ImagePool;
  B: ImagePool;
}

/** Gradients of a loss with respect to a group of networks, keyed `${net}/${param}`. */
export type Gradients = Record<string, Tensor>;

function variablesOf(model: CycleGAN, nets: readonly NetworkName[]): { list: Variable[]; keyOf: Map<string, string> } {
  const list: Variable[] = [];
  const keyOf = new Map<string, string>();
  for (const net of nets) {
    for (const [p, v] of Object.entries(model.nets[net])) {
      list.push(v);
      keyOf.set(v.name, slotKey(net, p));
    }
  }
  return { list, keyOf };
}

/** Runs `f` and takes the gradient of its scalar w.r.t. `nets` only; other variables act as constants. */
function gradientsOf(model: CycleGAN, nets: readonly NetworkName[], f: () => Scalar): { value: Scalar; grads: Gradients } {
  const { list, keyOf } = variablesOf(model, nets);
  const { value, grads } = tf.variableGrads(f, list);
  const out: Gradients = {};
  for (const [name, g] of Object.entries(grads)) out[keyOf.get(name)!] = g;
  return { value, grads: out };
}

function checkBatch(realA: Tensor4D, realB: Tensor4D): void {
  for (const [n, t] of [['real_A', realA], ['real_B', realB]] as const) {
    if (t.rank !== 4 || t.shape[3] !== 3) throw new Error(`train step: ${n} must be [batch, height, width, 3], got [${t.shape}]`);
  }
}

export interface GeneratorPass {
  /** loss_G, the sum of the six terms. */
  total: Scalar;
  losses: Record<GeneratorLossName, Scalar>;
  /** d loss_G / d (G_AB, G_BA) parameters. */
  grads: Gradients;
  /** G(real_A) and F(real_B), for the discriminator step. */
  fakeB: Tensor4D;
  fakeA: Tensor4D;
}

/**
 * Steps 1–2 without the update: losses, generator gradients and the fakes. Caller disposes all.
 *
 * loss_G is a sum, so its gradient is the sum of its terms' gradients: it is taken in three
 * backward passes (the A→B→A cycle with G's adversarial term, the B→A→B cycle with F's, then the
 * two identity terms), each holding the activations of two generator runs instead of six. Same
 * result as one backward pass up to float rounding, at a third of the peak memory (the full
 * preset at 128×128 otherwise outgrows wasm's 4 GiB heap).
 */
export function generatorPass(model: CycleGAN, realA: Tensor4D, realB: Tensor4D, lambdas: LossWeights = CYCLEGAN_LOSS_WEIGHTS): GeneratorPass {
  checkBatch(realA, realB);
  const { generator: gc, discriminator: dc } = model.config;
  const G = (x: Tensor4D) => generator(model.nets.G_AB, gc, x);
  const F = (x: Tensor4D) => generator(model.nets.G_BA, gc, x);
  const DX = (x: Tensor4D) => discriminator(model.nets.D_A, dc, x);
  const DY = (x: Tensor4D) => discriminator(model.nets.D_B, dc, x);
  const { lambdaA, lambdaB, lambdaIdentity } = lambdas;
  const losses = {} as Record<GeneratorLossName, Scalar>;
  const grads: Gradients = {};
  const kept: Tensor[] = [];
  const keep = <T extends Tensor>(t: T): T => {
    kept.push(t);
    return tf.keep(t);
  };
  const part = (f: () => Scalar) => {
    const r = gradientsOf(model, ['G_AB', 'G_BA'], f);
    r.value.dispose();
    for (const [k, g] of Object.entries(r.grads)) {
      const prev = grads[k];
      grads[k] = prev ? tf.tidy(() => tf.add(prev, g)) : g;
      if (prev) {
        prev.dispose();
        g.dispose();
      }
    }
  };
  let fakeA: Tensor4D | undefined;
  let fakeB: Tensor4D | undefined;
  try {
    part(() => {
      const fB = keep(G(realA));
      fakeB = fB;
      losses.G_A = keep(lsgan(DY(fB), true));
      losses.cycle_A = keep(tf.mul(l1(F(fB), realA), lambdaA));
      return tf.add(losses.G_A, losses.cycle_A) as Scalar;
    });
    part(() => {
      const fA = keep(F(realB));
      fakeA = fA;
      losses.G_B = keep(lsgan(DX(fA), true));
      losses.cycle_B = keep(tf.mul(l1(G(fA), realB), lambdaB));
      return tf.add(losses.G_B, losses.cycle_B) as Scalar;
    });
    if (lambdaIdentity > 0) {
      part(() => {
        losses.idt_A = keep(tf.mul(l1(G(realB), realB), lambdaB * lambdaIdentity));
        losses.idt_B = keep(tf.mul(l1(F(realA), realA), lambdaA * lambdaIdentity));
        return tf.add(losses.idt_A, losses.idt_B) as Scalar;
      });
    } else {
      losses.idt_A = keep(tf.scalar(0));
      losses.idt_B = keep(tf.scalar(0));
    }
  } catch (e) {
    tf.dispose([...kept, ...Object.values(grads)]);
    throw e;
  }
  const total = tf.addN([losses.G_A, losses.G_B, losses.cycle_A, losses.cycle_B, losses.idt_A, losses.idt_B]) as Scalar;
  return { total, losses, grads, fakeA: fakeA!, fakeB: fakeB! };
}

/**
 * The independent pieces of one iteration's gradients, for running them on several threads.
 * loss_G's gradient is the sum of its terms' gradients, and each discriminator's loss touches
 * only its own network, so an iteration splits into:
 *
 * - `cycleA`: G_A + cycle_A (G, D_B and F forward and back; also yields fake_B),
 * - `cycleB`: G_B + cycle_B (F, D_A and G; also yields fake_A),
 * - `idtA`:   idt_A (G on real_B; gradients for G_AB only),
 * - `idtB`:   idt_B (F on real_A; gradients for G_BA only),
 *
 * then, after the generator update, `D_A` and `D_B`: each discriminator's half of the D step.
 * The same ops as `generatorPass` and `discriminatorPass` (a backward pass seeded with 1 through
 * a sum gives each term exactly what it gives the term alone), so summing the chunks' gradients
 * in the order cycleA, cycleB, idt reproduces `trainStep`'s gradients bit for bit.
 */
export const GENERATOR_CHUNKS = ['cycleA', 'cycleB', 'idtA', 'idtB'] as const;
export type GeneratorChunk = (typeof GENERATOR_CHUNKS)[number];

export interface ChunkResult {
  /** The loss terms this chunk computed (scalars). */
  losses: Partial<Record<LossName, Scalar>>;
  /** Gradients of the chunk's loss, keyed `${net}/${param}`. */
  grads: Gradients;
  /** cycleA: fake_B = G(real_A); cycleB: fake_A = F(real_B). */
  fake?: Tensor4D;
}

/** One generator chunk (see GENERATOR_CHUNKS). Caller disposes everything in the result. */
export function generatorChunk(model: CycleGAN, realA: Tensor4D, realB: Tensor4D, chunk: GeneratorChunk, lambdas: LossWeights = CYCLEGAN_LOSS_WEIGHTS): ChunkResult {
  checkBatch(realA, realB);
  const { generator: gc, discriminator: dc } = model.config;
  const G = (x: Tensor4D) => generator(model.nets.G_AB, gc, x);
  const F = (x: Tensor4D) => generator(model.nets.G_BA, gc, x);
  const { lambdaA, lambdaB, lambdaIdentity } = lambdas;
  const losses: Partial<Record<LossName, Scalar>> = {};
  const kept: Tensor[] = [];
  const keep = <T extends Tensor>(t: T): T => {
    kept.push(t);
    return tf.keep(t);
  };
  let fake: Tensor4D | undefined;
  const body: Record<GeneratorChunk, () => Scalar> = {
    cycleA: () => {
      fake = keep(G(realA));
      losses.G_A = keep(lsgan(discriminator(model.nets.D_B, dc, fake), true));
      losses.cycle_A = keep(tf.mul(l1(F(fake), realA), lambdaA));
      return tf.add(losses.G_A, losses.cycle_A) as Scalar;
    },
    cycleB: () => {
      fake = keep(F(realB));
      losses.G_B = keep(lsgan(discriminator(model.nets.D_A, dc, fake), true));
      losses.cycle_B = keep(tf.mul(l1(G(fake), realB), lambdaB));
      return tf.add(losses.G_B, losses.cycle_B) as Scalar;
    },
    idtA: () => (losses.idt_A = keep(tf.mul(l1(G(realB), realB), lambdaB * lambdaIdentity))),
    idtB: () => (losses.idt_B = keep(tf.mul(l1(F(realA), realA), lambdaA * lambdaIdentity))),
  };
  const nets: Record<GeneratorChunk, NetworkName[]> = { cycleA: ['G_AB', 'G_BA'], cycleB: ['G_AB', 'G_BA'], idtA: ['G_AB'], idtB: ['G_BA'] };
  try {
    const r = gradientsOf(model, nets[chunk], body[chunk]);
    if (!kept.includes(r.value)) r.value.dispose();
    return { losses, grads: r.grads, fake };
  } catch (e) {
    tf.dispose(kept);
    throw e;
  }
}

/**
 * One discriminator's half of the D step: `net` is Stripes's D_A (judges domain A: real_A and
 * pooled fake_A; the reference's loss D_B) or D_B (the reference's D_A). Caller disposes all.
 */
export function discriminatorChunk(model: CycleGAN, net: 'D_A' | 'D_B', real: Tensor4D, pooledFake: Tensor4D): ChunkResult {
  const dc = model.config.discriminator;
  const { value, grads } = gradientsOf(model, [net], () =>
    tf.keep(tf.mul(tf.add(lsgan(discriminator(model.nets[net], dc, real), true), lsgan(discriminator(model.nets[net], dc, pooledFake), false)), 0.5) as Scalar),
  );
  return { losses: { [net === 'D_B' ? 'D_A' : 'D_B']: value }, grads };
}

export interface DiscriminatorPass {
  losses: Record<DiscriminatorLossName, Scalar>;
  /** d (loss_D_A + loss_D_B) / d (D_A, D_B) parameters. */
  grads: Gradients;
}

/** Step 3 without the update, given the fakes the pools returned. Caller disposes all. */
export function discriminatorPass(model: CycleGAN, realA: Tensor4D, realB: Tensor4D, pooledFakeA: Tensor4D, pooledFakeB: Tensor4D): DiscriminatorPass {
  checkBatch(realA, realB);
  const dc = model.config.discriminator;
  const half = (net: 'D_A' | 'D_B', real: Tensor4D, fake: Tensor4D) =>
    tf.mul(tf.add(lsgan(discriminator(model.nets[net], dc, real), true), lsgan(discriminator(model.nets[net], dc, fake), false)), 0.5) as Scalar;
  const losses = {} as Record<DiscriminatorLossName, Scalar>;
  const { value, grads } = gradientsOf(model, ['D_A', 'D_B'], () => {
    // Reference names: its D_A (netD_A) judges domain B, i.e. Stripes's D_B.
    losses.D_A = tf.keep(half('D_B', realB, pooledFakeB));
    losses.D_B = tf.keep(half('D_A', realA, pooledFakeA));
    return tf.add(losses.D_A, losses.D_B) as Scalar;
  });
  value.dispose();
  return { losses, grads };
}

export interface StepOptions {
  /** Learning rate of this iteration (the schedule's value), for both optimizers. */
  lr: number;
  lambdas?: LossWeights;
  /**
   * Changes a group's gradients before its optimizer step (e.g. a community round's proximal
   * term μ‖w − w_base‖², shared/rounds/lease-training.ts). Returns new tensors or the same ones;
   * the step frees whatever it returns that it did not pass in.
   */
  adjustGradients?: (group: 'G' | 'D', grads: Gradients) => Gradients;
}

function adjusted(opts: StepOptions, group: 'G' | 'D', grads: Gradients): { grads: Gradients; extra: Tensor[] } {
  if (!opts.adjustGradients) return { grads, extra: [] };
  const given = new Set(Object.values(grads));
  const out = opts.adjustGradients(group, grads);
  return { grads: out, extra: Object.values(out).filter((t) => !given.has(t)) };
}

/**
 * One full iteration: updates G_AB and G_BA, then D_A and D_B, in place; feeds each pool one
 * fake per image. Resolves to every loss term as a number. Frees everything it makes except
 * what the pools keep (at most `pool.size` images each).
 */
export async function trainStep(model: CycleGAN, pools: FakePools, realA: Tensor4D, realB: Tensor4D, opts: StepOptions): Promise<Losses> {
  if (!(Number.isFinite(opts.lr) && opts.lr >= 0)) throw new Error(`train step: lr must be a finite number ≥ 0, got ${opts.lr}`);
  const g = generatorPass(model, realA, realB, opts.lambdas ?? CYCLEGAN_LOSS_WEIGHTS);
  let pooledA: Tensor4D | undefined;
  let pooledB: Tensor4D | undefined;
  let d: DiscriminatorPass | undefined;
  let all: Tensor | undefined;
  try {
    const gg = adjusted(opts, 'G', g.grads);
    try {
      model.optG.step(gg.grads, opts.lr);
    } finally {
      tf.dispose(gg.extra);
    }
    pooledB = pools.B.query(g.fakeB);
    pooledA = pools.A.query(g.fakeA);
    d = discriminatorPass(model, realA, realB, pooledA, pooledB);
    const dg = adjusted(opts, 'D', d.grads);
    try {
      model.optD.step(dg.grads, opts.lr);
    } finally {
      tf.dispose(dg.extra);
    }
    const dl = d.losses;
    const gl = g.losses;
    all = tf.stack([dl.D_A, gl.G_A, gl.cycle_A, gl.idt_A, dl.D_B, gl.G_B, gl.cycle_B, gl.idt_B]);
  } finally {
    tf.dispose([g.total, g.fakeA, g.fakeB, ...Object.values(g.losses), ...Object.values(g.grads)]);
    if (pooledA) pooledA.dispose();
    if (pooledB) pooledB.dispose();
    if (d) tf.dispose([...Object.values(d.losses), ...Object.values(d.grads)]);
    // The wasm input-gradient kernel caches filters per weight; every weight was just replaced,
    // so free them now rather than after the next forward pass has taken its memory.
    clearWasmKernelCaches();
  }
  const values = await all.data();
  all.dispose();
  return Object.fromEntries(LOSS_NAMES.map((n, i) => [n, values[i]])) as Losses;
}

export interface Visuals {
  realA: Tensor4D;
  fakeB: Tensor4D;
  recA: Tensor4D;
  realB: Tensor4D;
  fakeA: Tensor4D;
  recB: Tensor4D;
}

/** The reference's visuals (real_A, fake_B, rec_A, real_B, fake_A, rec_B) for reports. Caller disposes the new tensors (all but the reals). */
export function visuals(model: CycleGAN, realA: Tensor4D, realB: Tensor4D): Visuals {
  checkBatch(realA, realB);
  const gc = model.config.generator;
  return tf.tidy(() => {
    const fakeB = generator(model.nets.G_AB, gc, realA);
    const recA = generator(model.nets.G_BA, gc, fakeB);
    const fakeA = generator(model.nets.G_BA, gc, realB);
    const recB = generator(model.nets.G_AB, gc, fakeA);
    return { realA, fakeB, recA, realB, fakeA, recB };
  });
}
