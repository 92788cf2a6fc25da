/**
 * Distilling a pair's generators into compact students (shared/model/student.ts), both
 * directions at once, as GAN Compression (Li et al. 2020) trains its student before any
 * architecture search, minus the intermediate-feature term (docs/distill.md says why):
 *
 *   student S_AB learns G_AB on real A images, S_BA learns G_BA on real B images;
 *   loss_S = λ_pix · (L1(S_AB(a), G_AB(a)) + L1(S_BA(b), G_BA(b)))
 *          + λ_gan · (LSGAN(D_B(S_AB(a)), real) + LSGAN(D_A(S_BA(b)), real))
 *   loss_D = ½ (LSGAN(D_B(b), real) + LSGAN(D_B(S_AB(a)), fake)) + the same for D_A,
 *
 * with the teacher generators frozen, the discriminators starting from the teacher's (already
 * good judges of each domain) and trained on, one Adam for the students and one for the
 * discriminators (lr 2e-4, β 0.5, 0.999, as the pair was trained). λ_pix 10 and λ_gan 1 are the
 * paper's recon and GAN weights. A teacher without discriminators (an imported translate-only
 * checkpoint) distils with the pixel term alone.
 *
 * Backend-free (tfjs-core ops only); the CLI (cli/commands/distill.ts) picks the backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Scalar, Tensor, Tensor4D, Variable } from '@tensorflow/tfjs-core';
import { DISCRIMINATORS, GENERATORS, type DiscriminatorName, type GeneratorName, type ModelConfig } from '../model/config.ts';
import { discriminator } from '../model/discriminator.ts';
import { generator, type Params } from '../model/generator.ts';
import { initValues } from '../model/init.ts';
import { discriminatorParamSpecs, generatorParamSpecs } from '../model/param-specs.ts';
import { mobileGenerator } from '../model/student.ts';
import { studentParamSpecs, type StudentConfig } from '../model/student-config.ts';
import { Adam, CYCLEGAN_ADAM, type AdamState } from './adam.ts';
import { l1, lsgan } from './losses.ts';
import { clearWasmKernelCaches } from '../tfjs/wasm-kernels.ts';

export type NetParams = Record<string, Float32Array>;

import { DISTILL_WEIGHTS, type DistillWeights } from './distill-config.ts';
export { DISTILL_WEIGHTS, type DistillWeights };

/**
 * Per-iteration losses, unweighted. `L1_AB` is mean |S_AB(a) − G_AB(a)| in [-1, 1] units;
 * `G_AB` the student's adversarial loss against D_B; `D_B` that discriminator's (×½) loss.
 */
export const DISTILL_LOSS_NAMES = ['L1_AB', 'G_AB', 'D_B', 'L1_BA', 'G_BA', 'D_A'] as const;
export type DistillLosses = Partial<Record<(typeof DISTILL_LOSS_NAMES)[number], number>>;

export interface DistillState {
  students: Record<GeneratorName, NetParams>;
  /** Absent when distilling without discriminators. */
  discriminators?: Record<DiscriminatorName, NetParams>;
  optimizer: { S: AdamState; D?: AdamState };
}

export interface DistillerOptions {
  teacherConfig: ModelConfig;
  studentConfig: StudentConfig;
  /** The teacher's generators; its discriminators too, unless the adversarial term is off. */
  teacher: Partial<Record<GeneratorName | DiscriminatorName, NetParams>>;
  weights?: DistillWeights;
  /** Seed of the students' N(0, 0.02) init (S_AB from seed, S_BA from seed + 1). */
  seed: number;
  /** Continue a run from its exported state instead. */
  resumeFrom?: DistillState;
}

export interface Distiller {
  /** Whether the adversarial term (and the discriminators) is in use. */
  readonly adversarial: boolean;
  /** One iteration on a batch of real A and real B images (NHWC, [-1, 1]) at learning rate `lr`. */
  step(realA: Tensor4D, realB: Tensor4D, lr: number): Promise<DistillLosses>;
  /** Teacher and student translations of one A and one B batch, for reports and checks. */
  translate(realA: Tensor4D, realB: Tensor4D): { teacherB: Tensor4D; studentB: Tensor4D; teacherA: Tensor4D; studentA: Tensor4D };
  exportState(): Promise<DistillState>;
  dispose(): void;
}

const key = (net: string, p: string) => `${net}/${p}`;
/** Variable names must be unique in the engine; several distillers (tests) may live at once. */
let distillers = 0;

function constants(specs: { name: string; shape: number[] }[], values: NetParams | undefined, what: string): Params {
  if (!values) throw new Error(`distill: the teacher has no ${what}`);
  const out: Params = {};
  for (const s of specs) {
    const v = values[s.name];
    if (!v) throw new Error(`distill: the teacher's ${what} lacks "${s.name}"`);
    out[s.name] = tf.tensor(v, s.shape, 'float32');
  }
  return out;
}

function variables(run: number, net: string, specs: { name: string; shape: number[] }[], values: NetParams): Record<string, Variable> {
  const out: Record<string, Variable> = {};
  for (const s of specs) {
    const v = values[s.name];
    if (!v || v.length !== s.shape.reduce((a, b) => a * b, 1)) throw new Error(`distill: ${net} "${s.name}" is missing or misshapen`);
    out[s.name] = tf.variable(tf.tensor(v, s.shape, 'float32'), true, `distill${run}/${key(net, s.name)}`);
  }
  return out;
}

function flat(nets: Record<string, Record<string, Variable>>): Record<string, Variable> {
  const out: Record<string, Variable> = {};
  for (const [net, ps] of Object.entries(nets)) for (const [p, v] of Object.entries(ps)) out[key(net, p)] = v;
  return out;
}

async function read(vars: Record<string, Variable>): Promise<NetParams> {
  const out: NetParams = {};
  for (const [name, v] of Object.entries(vars)) out[name] = (await v.data()) as Float32Array;
  return out;
}

export function createDistiller(o: DistillerOptions): Distiller {
  const w = o.weights ?? DISTILL_WEIGHTS;
  const hasD = DISCRIMINATORS.every((d) => o.teacher[d] !== undefined);
  const adversarial = w.gan > 0 && (o.resumeFrom ? o.resumeFrom.discriminators !== undefined : hasD);
  const gSpecs = generatorParamSpecs(o.teacherConfig.generator);
  const dSpecs = discriminatorParamSpecs(o.teacherConfig.discriminator);
  const sSpecs = studentParamSpecs(o.studentConfig);
  const run = ++distillers;

  const teacher = {
    G_AB: constants(gSpecs, o.teacher.G_AB, 'G_AB'),
    G_BA: constants(gSpecs, o.teacher.G_BA, 'G_BA'),
  };
  const initial = (net: GeneratorName, i: number) => o.resumeFrom?.students[net] ?? Object.fromEntries(initValues(sSpecs, o.seed + i));
  const students = { G_AB: variables(run, 'G_AB', sSpecs, initial('G_AB', 0)), G_BA: variables(run, 'G_BA', sSpecs, initial('G_BA', 1)) };
  const discs = adversarial
    ? {
        D_A: variables(run, 'D_A', dSpecs, o.resumeFrom?.discriminators?.D_A ?? o.teacher.D_A!),
        D_B: variables(run, 'D_B', dSpecs, o.resumeFrom?.discriminators?.D_B ?? o.teacher.D_B!),
      }
    : undefined;
  const sFlat = flat(students);
  const dFlat = discs ? flat(discs) : {};
  const optS = new Adam(sFlat, CYCLEGAN_ADAM);
  const optD = discs ? new Adam(dFlat, CYCLEGAN_ADAM) : undefined;
  if (o.resumeFrom) {
    optS.importState(o.resumeFrom.optimizer.S);
    if (optD) {
      if (!o.resumeFrom.optimizer.D) throw new Error('distill: the saved state has discriminators but no optimizer for them');
      optD.importState(o.resumeFrom.optimizer.D);
    }
  }
  const S = (net: GeneratorName, x: Tensor4D) => mobileGenerator(students[net], o.studentConfig, x);
  const T = (net: GeneratorName, x: Tensor4D) => generator(teacher[net], o.teacherConfig.generator, x);
  const D = (net: DiscriminatorName, x: Tensor4D) => discriminator(discs![net], o.teacherConfig.discriminator, x);

  const scalarsOf = async (t: Record<string, Scalar>): Promise<DistillLosses> => {
    const out: DistillLosses = {};
    for (const [k, v] of Object.entries(t)) {
      out[k as keyof DistillLosses] = (await v.data())[0];
      v.dispose();
    }
    return out;
  };

  return {
    adversarial,
    async step(realA, realB, lr) {
      const targetB = tf.tidy(() => T('G_AB', realA));
      const targetA = tf.tidy(() => T('G_BA', realB));
      const parts: Record<string, Scalar> = {};
      let fakeB: Tensor4D | undefined;
      let fakeA: Tensor4D | undefined;
      try {
        const { value, grads } = tf.variableGrads(() => {
          const sB = S('G_AB', realA);
          const sA = S('G_BA', realB);
          parts.L1_AB = tf.keep(l1(sB, targetB));
          parts.L1_BA = tf.keep(l1(sA, targetA));
          let loss = tf.mul(tf.add(parts.L1_AB, parts.L1_BA), w.pixel) as Scalar;
          if (discs) {
            parts.G_AB = tf.keep(lsgan(D('D_B', sB), true));
            parts.G_BA = tf.keep(lsgan(D('D_A', sA), true));
            loss = tf.add(loss, tf.mul(tf.add(parts.G_AB, parts.G_BA), w.gan)) as Scalar;
            fakeB = tf.keep(sB);
            fakeA = tf.keep(sA);
          }
          return loss;
        }, Object.values(sFlat));
        value.dispose();
        const byKey: Record<string, Tensor> = {};
        for (const [k, v] of Object.entries(sFlat)) if (grads[v.name]) byKey[k] = grads[v.name];
        optS.step(byKey, lr);
        tf.dispose(Object.values(grads));
        if (discs && optD) {
          const dGrads = tf.variableGrads(() => {
            const half = (d: DiscriminatorName, real: Tensor4D, fake: Tensor4D) =>
              tf.mul(tf.add(lsgan(D(d, real), true), lsgan(D(d, fake), false)), 0.5) as Scalar;
            parts.D_B = tf.keep(half('D_B', realB, fakeB!));
            parts.D_A = tf.keep(half('D_A', realA, fakeA!));
            return tf.add(parts.D_B, parts.D_A) as Scalar;
          }, Object.values(dFlat));
          dGrads.value.dispose();
          const dByKey: Record<string, Tensor> = {};
          for (const [k, v] of Object.entries(dFlat)) if (dGrads.grads[v.name]) dByKey[k] = dGrads.grads[v.name];
          optD.step(dByKey, lr);
          tf.dispose(Object.values(dGrads.grads));
        }
      } finally {
        tf.dispose([targetA, targetB, ...(fakeA ? [fakeA] : []), ...(fakeB ? [fakeB] : [])]);
        // As in train-step.ts: the wasm input-gradient kernel caches filters of weights just replaced.
        clearWasmKernelCaches();
      }
      return scalarsOf(parts);
    },
    translate(realA, realB) {
      return tf.tidy(() => ({ teacherB: T('G_AB', realA), studentB: S('G_AB', realA), teacherA: T('G_BA', realB), studentA: S('G_BA', realB) }));
    },
    async exportState() {
      const state: DistillState = {
        students: { G_AB: await read(students.G_AB), G_BA: await read(students.G_BA) },
        optimizer: { S: await optS.exportState() },
      };
      if (discs && optD) {
        state.discriminators = { D_A: await read(discs.D_A), D_B: await read(discs.D_B) };
        state.optimizer.D = await optD.exportState();
      }
      return state;
    },
    dispose() {
      optS.dispose();
      optD?.dispose();
      for (const g of GENERATORS) tf.dispose([...Object.values(teacher[g]), ...Object.values(students[g])]);
      if (discs) for (const d of DISCRIMINATORS) tf.dispose(Object.values(discs[d]));
    },
  };
}
