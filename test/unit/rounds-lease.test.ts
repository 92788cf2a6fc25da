/**
 * The one lease-training loop (shared/rounds/lease-training.ts) that `stripes contribute`, the
 * browser's training worker and the simulation share: its budget, stop signal, warm-up,
 * proximal term and seeded pools. Tiny preset, 32-px crops, wasm backend.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../cli/tf-backend.ts';
import { NETWORKS, presetConfig } from '../../shared/model/config.ts';
import type { Weights } from '../../shared/rounds/client.ts';
import { innerStepLr, LeaseDiscarded, loadSizeFor, StopSignal, trainLease, type BatchSource } from '../../shared/rounds/lease-training.ts';
import { DEFAULT_ROUND_CONFIG, TrainSettingsSchema, type TrainSettings } from '../../shared/rounds/protocol.ts';
import { createCycleGAN, disposeCycleGAN, exportWeights } from '../../shared/train/cyclegan.ts';
import { Rng } from '../../shared/train/rng.ts';
import { nextBatch, UnalignedSampler } from '../../shared/train/sampling.ts';

const config = presetConfig('tiny');
const LOAD = 36;

function images(seed: number, n: number): Uint8Array[] {
  const r = new Rng(seed);
  return Array.from({ length: n }, () => Uint8Array.from({ length: LOAD * LOAD * 3 }, () => r.int(256)));
}

function batches(seed: number): BatchSource {
  const A = { images: images(seed, 3) };
  const B = { images: images(seed + 1, 3) };
  const rng = new Rng(seed);
  const sampler = new UnalignedSampler(3, 3, rng);
  return { next: (n, crop) => nextBatch(A, B, sampler, rng, { loadSize: LOAD, cropSize: crop, flip: true }, n) };
}

const settings = (over: Partial<TrainSettings> = {}): TrainSettings =>
  TrainSettingsSchema.parse({ ...DEFAULT_ROUND_CONFIG.train, steps: 3, cropSize: 32, loadSize: LOAD, ...over });

function deltaNorm(a: Weights, b: Weights): number {
  let s = 0;
  for (const net of NETWORKS) for (const k of Object.keys(a[net])) for (let i = 0; i < a[net][k].length; i++) s += (a[net][k][i] - b[net][k][i]) ** 2;
  return Math.sqrt(s);
}

let base: Weights;
beforeAll(async () => {
  await useBackend('wasm');
  const m = createCycleGAN(config, { seed: 5 });
  base = (await exportWeights(m)) as Weights;
  disposeCycleGAN(m);
});

describe('lease settings', () => {
  it('ramps the inner lr over the warm-up, then holds the lease lr', () => {
    const t = { lr: 1e-4, warmupSteps: 4 };
    const want = [2.5e-5, 5e-5, 7.5e-5, 1e-4, 1e-4, 1e-4];
    [1, 2, 3, 4, 5, 50].forEach((k, i) => expect(innerStepLr(t, k)).toBeCloseTo(want[i], 15));
    expect(innerStepLr({ lr: 1e-4, warmupSteps: 0 }, 1)).toBe(1e-4);
  });
  it('reads leases written before the new fields existed with them off, and checks them', () => {
    const { warmupSteps: _w, proximal: _p, ...old } = DEFAULT_ROUND_CONFIG.train;
    expect(TrainSettingsSchema.parse(old)).toMatchObject({ warmupSteps: 0, proximal: 0 });
    expect(TrainSettingsSchema.safeParse({ ...old, warmupSteps: -1 }).success).toBe(false);
    expect(TrainSettingsSchema.safeParse({ ...old, proximal: -0.1 }).success).toBe(false);
    expect(loadSizeFor(settings({ loadSize: undefined, cropSize: 64 }))).toBe(72);
    expect(loadSizeFor(settings({ loadSize: 128, cropSize: 64 }))).toBe(128);
    expect(() => loadSizeFor(settings({ loadSize: 32, cropSize: 64 }))).toThrow(/smaller than cropSize/);
  });
});

describe('trainLease', () => {
  it('is repeatable from its seeds and takes min(K, budget) steps', { timeout: 120_000 }, async () => {
    const run = (seed: number, budget?: { steps: number }) => trainLease({ config, base, train: settings(), batches: batches(1), seed, budget });
    const [a, b, c] = [await run(7), await run(7), await run(7, { steps: 2 })];
    expect(a.steps).toBe(3);
    expect(a.samples).toBe(3);
    expect(deltaNorm(a.weights, b.weights)).toBe(0);
    expect(c.steps).toBe(2);
    expect(deltaNorm(a.weights, base)).toBeGreaterThan(0);
    expect(Object.keys(a.losses).sort()).toEqual(['D_A', 'D_B', 'G_A', 'G_B', 'cycle_A', 'cycle_B', 'idt_A', 'idt_B']);
  });

  it('stops between steps: upload keeps the steps done, discard throws them away; a spent time budget still takes one step', { timeout: 120_000 }, async () => {
    const stopAt = (mode: 'upload' | 'discard') => {
      const stop = new StopSignal();
      return trainLease({ config, base, train: settings({ steps: 5 }), batches: batches(1), seed: 1, stop, onStep: (r) => (r.step === 2 ? stop.stop(mode) : undefined) });
    };
    expect((await stopAt('upload')).steps).toBe(2);
    await expect(stopAt('discard')).rejects.toBeInstanceOf(LeaseDiscarded);
    let t = 0;
    const timed = await trainLease({ config, base, train: settings({ steps: 5 }), batches: batches(1), seed: 1, budget: { ms: 10 }, now: () => (t += 6) });
    expect(timed.steps).toBe(1);
  });

  it('moves the weights less with a warm-up and with a proximal term, and not at all at lr ≈ 0', { timeout: 180_000 }, async () => {
    const norm = async (over: Partial<TrainSettings>) =>
      deltaNorm((await trainLease({ config, base, train: settings(over), batches: batches(2), seed: 3 })).weights, base);
    const plain = await norm({});
    const warm = await norm({ warmupSteps: 3 });
    const prox = await norm({ proximal: 1e4 });
    // Warm-up over 3 steps: step sizes 1/3, 2/3, 1 of the lease lr.
    expect(warm).toBeLessThan(0.8 * plain);
    expect(prox).toBeLessThan(0.8 * plain);
    expect(await norm({ lr: 1e-12 })).toBeLessThan(1e-6 * plain);
  });

  it('trains with SGD, clipping each network gradient to gradClip', { timeout: 120_000 }, async () => {
    const lr = 1e-3;
    const r = await trainLease({ config, base, train: settings({ optimizer: 'sgd', lr, gradClip: 0.5, steps: 1 }), batches: batches(1), seed: 1 });
    // One step per network moves at most lr × gradClip.
    for (const net of NETWORKS) {
      let s = 0;
      for (const k of Object.keys(base[net])) for (let i = 0; i < base[net][k].length; i++) s += (r.weights[net][k][i] - base[net][k][i]) ** 2;
      expect(Math.sqrt(s)).toBeLessThanOrEqual(lr * 0.5 * (1 + 1e-3));
      expect(Math.sqrt(s)).toBeGreaterThan(0);
    }
  });
});
