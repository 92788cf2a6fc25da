/**
 * One CycleGAN training iteration against the PyTorch reference (the reference's
 * optimize_parameters with torch.optim.Adam), on each Node backend: every loss term, every
 * gradient and every parameter after the generator step and the discriminator step.
 * Fixture: scripts/make_train_fixtures.py → test/fixtures/train/iteration.safetensors.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor4D } from '@tensorflow/tfjs-core';
import { useBackend, type NodeBackend } from '../../cli/tf-backend.ts';
import { DISCRIMINATORS, GENERATORS, NETWORKS, validateModelConfig, type ModelConfig, type NetworkName } from '../../shared/model/index.ts';
import { readSafetensors } from '../../shared/weights/safetensors.ts';
import {
  createCycleGAN,
  discriminatorPass,
  disposeCycleGAN,
  exportTrainingState,
  exportWeights,
  generatorPass,
  importTrainingState,
  ImagePool,
  LOSS_NAMES,
  trainStep,
  type CycleGAN,
  type LossWeights,
  type NetworkWeights,
} from '../../shared/train/index.ts';

const FILE = 'iteration.safetensors';
const { tensors, metadata } = readSafetensors(readFileSync(new URL(`../fixtures/train/${FILE}`, import.meta.url)), FILE);
const config: ModelConfig = validateModelConfig(JSON.parse(metadata.config));
const lr = Number(metadata.lr);
const lambdas: LossWeights = JSON.parse(metadata.lambdas);
/** `${net}/${param}` of conv biases feeding an instance norm: their true gradient is zero. */
const nullGrad = new Set<string>(JSON.parse(metadata.null_grad));

function fixture(name: string): Float32Array {
  const t = tensors.get(name);
  if (!t) throw new Error(`${FILE}: missing ${name}`);
  return t.data;
}

function weightsAt(prefix: 'init' | 'after'): NetworkWeights {
  const out = {} as NetworkWeights;
  for (const net of NETWORKS) {
    out[net] = {};
    for (const [k, t] of tensors) if (k.startsWith(`${prefix}/${net}/`)) out[net][k.slice(prefix.length + net.length + 2)] = t.data;
  }
  return out;
}

const init = weightsAt('init');
const after = weightsAt('after');

/** The gradient tolerance: worst error relative to the tensor's largest reference gradient (float32 PyTorch: 4e-6). */
const GRAD_TOL = 1e-4;
const EPS = 1e-8;

/**
 * Each element within 1e-4 relative or 1e-6 absolute; reports the worst offender. With `grad`
 * (the reference gradient of a parameter after Adam's first step), an element may also differ by
 * what the allowed gradient error moves it: the first step is p − lr·g/(|g|+ε), whose slope
 * ε/(|g|+ε)² is large where |g| is near ε, so float32 rounding of a tiny gradient (PyTorch's own
 * float32 run lands at 0.98 of the plain tolerance there) shows up in the parameter.
 */
function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string, grad?: Float32Array) {
  expect(got.length, what).toBe(want.length);
  const delta = grad ? GRAD_TOL * maxAbs(grad) : 0;
  let bad = -1;
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    const adam = grad ? (lr * EPS * delta) / (Math.abs(grad[i]) + EPS) ** 2 : 0;
    const excess = err / Math.max(1e-4 * Math.abs(want[i]), 1e-6, adam);
    if (excess > worst) {
      worst = excess;
      bad = i;
    }
  }
  expect(worst, `${what}: element ${bad} is ${got[bad]}, reference ${want[bad]}`).toBeLessThanOrEqual(1);
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/**
 * Parameters whose reference gradient is exactly zero: ours must be at rounding-noise level,
 * and Adam (which normalises noise to ±lr) may move them by at most lr.
 */
function expectNullGradStep(before: Float32Array, got: Float32Array, what: string) {
  for (let i = 0; i < got.length; i++) {
    expect(Math.abs(got[i] - before[i]), `${what}[${i}] moved further than lr`).toBeLessThanOrEqual(lr * (1 + 1e-3));
  }
}

function expectParams(model: NetworkWeights, nets: readonly NetworkName[], want: NetworkWeights) {
  for (const net of nets) {
    for (const [name, v] of Object.entries(want[net])) {
      const key = `${net}/${name}`;
      if (nullGrad.has(key)) expectNullGradStep(init[net][name], model[net][name], key);
      else expectClose(model[net][name], v, key, fixture(`grad/${key}`));
    }
  }
}

function expectUnchanged(model: NetworkWeights, nets: readonly NetworkName[], want: NetworkWeights) {
  for (const net of nets) for (const [name, v] of Object.entries(want[net])) expect(model[net][name], `${net}/${name}`).toEqual(v);
}

function expectGradients(grads: Record<string, Tensor>, nets: readonly NetworkName[]) {
  for (const net of nets) {
    for (const name of Object.keys(init[net])) {
      const key = `${net}/${name}`;
      const got = grads[key].dataSync();
      const want = fixture(`grad/${key}`);
      if (nullGrad.has(key)) {
        const scale = Math.max(...Object.keys(init[net]).filter((n) => !nullGrad.has(`${net}/${n}`)).map((n) => maxAbs(fixture(`grad/${net}/${n}`))));
        expect(maxAbs(got) / scale, `${key}: gradient should be rounding noise`).toBeLessThan(1e-5);
        continue;
      }
      const scale = maxAbs(want);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
      expect(worst / scale, `${key}: worst gradient error relative to the tensor's max`).toBeLessThan(GRAD_TOL);
    }
  }
}

function reals(): { realA: Tensor4D; realB: Tensor4D } {
  const shape = tensors.get('real_A')!.shape as [number, number, number, number];
  return { realA: tf.tensor4d(fixture('real_A'), shape), realB: tf.tensor4d(fixture('real_B'), shape) };
}

/** A seeded uniform stream for the pools (mulberry32). */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

for (const backend of ['cpu', 'wasm'] as NodeBackend[]) {
  describe(`one CycleGAN iteration vs PyTorch (${backend})`, () => {
    let model: CycleGAN;
    let realA: Tensor4D;
    let realB: Tensor4D;

    beforeAll(async () => {
      await useBackend(backend);
      model = createCycleGAN(config, { weights: init });
      ({ realA, realB } = reals());
    });
    afterAll(() => {
      disposeCycleGAN(model);
      tf.dispose([realA, realB]);
    });

    it('gradients and losses of the generator and discriminator steps, each step moving only its own networks', async () => {
      const g = generatorPass(model, realA, realB, lambdas);
      for (const k of ['G_A', 'G_B', 'cycle_A', 'cycle_B', 'idt_A', 'idt_B'] as const) {
        expectClose(g.losses[k].dataSync(), fixture(`loss/${k}`), `loss ${k}`);
      }
      expect(Object.keys(g.grads).sort()).toEqual(GENERATORS.flatMap((n) => Object.keys(init[n]).map((p) => `${n}/${p}`)).sort());
      expectGradients(g.grads, GENERATORS);
      model.optG.step(g.grads, lr);
      const afterG = await exportWeights(model);
      expectParams(afterG, GENERATORS, after);
      expectUnchanged(afterG, DISCRIMINATORS, init);

      // The pools return their input while they fill, as the fixture's do.
      const poolA = new ImagePool(50, seeded(1));
      const poolB = new ImagePool(50, seeded(2));
      const fakeA = poolA.query(g.fakeA);
      const fakeB = poolB.query(g.fakeB);
      expect(fakeA.dataSync()).toEqual(g.fakeA.dataSync());
      const d = discriminatorPass(model, realA, realB, fakeA, fakeB);
      expectClose(d.losses.D_A.dataSync(), fixture('loss/D_A'), 'loss D_A');
      expectClose(d.losses.D_B.dataSync(), fixture('loss/D_B'), 'loss D_B');
      expectGradients(d.grads, DISCRIMINATORS);
      model.optD.step(d.grads, lr);
      const afterD = await exportWeights(model);
      expectParams(afterD, DISCRIMINATORS, after);
      expectUnchanged(afterD, GENERATORS, afterG);

      tf.dispose([g.total, g.fakeA, g.fakeB, fakeA, fakeB, ...Object.values(g.losses), ...Object.values(g.grads)]);
      tf.dispose([...Object.values(d.losses), ...Object.values(d.grads)]);
      poolA.dispose();
      poolB.dispose();
    });

    it('trainStep does the same iteration, reports every loss, and leaks no tensors over 3 iterations', async () => {
      const m = createCycleGAN(config, { weights: init });
      const pools = { A: new ImagePool(50, seeded(3)), B: new ImagePool(50, seeded(4)) };
      const losses = await trainStep(m, pools, realA, realB, { lr, lambdas });
      expect(Object.keys(losses).sort()).toEqual([...LOSS_NAMES].sort());
      for (const k of LOSS_NAMES) expectClose([losses[k]], fixture(`loss/${k}`), `loss ${k}`);
      expectParams(await exportWeights(m), NETWORKS, after);

      const live = () => tf.memory().numTensors - pools.A.count - pools.B.count;
      const start = live();
      for (let i = 0; i < 2; i++) {
        const l = await trainStep(m, pools, realA, realB, { lr, lambdas });
        for (const k of LOSS_NAMES) expect(Number.isFinite(l[k]), k).toBe(true);
        expect(live()).toBe(start);
      }
      expect(pools.A.count).toBe(3);
      pools.A.dispose();
      pools.B.dispose();
      disposeCycleGAN(m);
    });
  });
}

describe('exact resume from exported weights and optimizer state (wasm)', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  it('1 step + export/import + 1 step equals 2 uninterrupted steps, bit for bit', async () => {
    const { realA, realB } = reals();
    const pools = () => ({ A: new ImagePool(50, seeded(5)), B: new ImagePool(50, seeded(6)) });
    const straight = createCycleGAN(config, { weights: init });
    const p1 = pools();
    await trainStep(straight, p1, realA, realB, { lr, lambdas });
    await trainStep(straight, p1, realA, realB, { lr: lr / 2, lambdas });
    const want = await exportTrainingState(straight);

    const first = createCycleGAN(config, { weights: init });
    const p2 = pools();
    await trainStep(first, p2, realA, realB, { lr, lambdas });
    const saved = await exportTrainingState(first);
    const poolA = await p2.A.snapshot();
    const poolB = await p2.B.snapshot();

    const resumed = createCycleGAN(config, { seed: 99 });
    importTrainingState(resumed, saved);
    const p3 = pools();
    p3.A.restore(poolA);
    p3.B.restore(poolB);
    await trainStep(resumed, p3, realA, realB, { lr: lr / 2, lambdas });
    const got = await exportTrainingState(resumed);
    expect(got.weights).toEqual(want.weights);
    expect(got.optimizer).toEqual(want.optimizer);
    expect(got.optimizer.G['G_AB/model.1.weight'].step).toBe(2);

    // A state that does not fit is refused before anything changes.
    const bad = structuredClone(saved);
    bad.optimizer.D['D_B/model.0.weight'].m = new Float32Array(3);
    const before = await exportTrainingState(resumed);
    expect(() => importTrainingState(resumed, bad)).toThrow(/D_B\/model.0.weight" has 3\/\d+ values for m\/v/);
    const wrongNet = structuredClone(saved);
    delete (wrongNet.weights.G_BA as Record<string, Float32Array>)['model.1.bias'];
    expect(() => importTrainingState(resumed, wrongNet)).toThrow(/G_BA is missing \[model.1.bias\]/);
    expect(await exportTrainingState(resumed)).toEqual(before);

    for (const m of [straight, first, resumed]) disposeCycleGAN(m);
    for (const p of [p1, p2, p3]) {
      p.A.dispose();
      p.B.dispose();
    }
    tf.dispose([realA, realB]);
  });
});
