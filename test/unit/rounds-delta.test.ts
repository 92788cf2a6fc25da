import { describe, expect, it } from 'vitest';
import { presetConfig } from '../../shared/model/config.ts';
import { computeDelta, decodeDeltaShard, deltaShardSizes, encodeDelta, flattenNetwork, networkLength, shardRanges } from '../../shared/rounds/delta.ts';
import { applyConfigPatch, DEFAULT_ROUND_CONFIG, innerLrAt } from '../../shared/rounds/protocol.ts';
import { adamStepFactor, checkCommit, clipBound, normBound } from '../../shared/rounds/validate.ts';
import { learningRate, scheduleSplit } from '../../shared/train/schedule.ts';
import { specsFor } from '../../shared/weights/manifest.ts';
import { sha256Hex } from '../../shared/weights/sha256.ts';

describe('delta encoding', () => {
  it('cuts float16 deltas like a checkpoint group and measures the float16 norm', async () => {
    const delta = computeDelta(new Float32Array([1.5, 2, 3, 4, 5]), new Float32Array([1, 1, 1, 1, 1.0001]));
    const { shards, norm } = await encodeDelta(delta, 4);
    expect(shards.map((s) => s.bytes.byteLength)).toEqual(deltaShardSizes(5, 4));
    expect(deltaShardSizes(5, 4)).toEqual([4, 4, 2]);
    expect(shards[0].hash).toBe(await sha256Hex(shards[0].bytes));
    const back = shards.flatMap((s) => Array.from(decodeDeltaShard(s.bytes).values));
    // 3.9999 is not a float16; its nearest is 4.
    expect(back).toEqual([0.5, 1, 2, 3, 4]);
    expect(norm).toBeCloseTo(Math.sqrt(0.25 + 1 + 4 + 9 + 16), 12);
  });
  it('flags NaN and infinities, including float16 overflow', () => {
    expect(decodeDeltaShard(new Uint8Array(new Uint16Array([0x3c00, 0x7e00]).buffer)).finite).toBe(false);
    expect(decodeDeltaShard(new Uint8Array(new Uint16Array([0x7c00]).buffer)).finite).toBe(false);
    expect(decodeDeltaShard(new Uint8Array(new Uint16Array([0x3c00]).buffer))).toMatchObject({ finite: true, sumSquares: 1 });
  });
  it('maps a value range to byte ranges of shards', () => {
    // 2-byte values in 8-byte shards: values 3..6 straddle shards 0 and 1.
    expect(shardRanges(3, 4, 2, 8)).toEqual([
      { shard: 0, offset: 6, length: 2 },
      { shard: 1, offset: 0, length: 6 },
    ]);
  });
  it('flattens a network in param-spec order', () => {
    const cfg = presetConfig('tiny');
    const specs = specsFor('D_A', cfg);
    const params = Object.fromEntries(specs.map((s, i) => [s.name, new Float32Array(s.shape.reduce((a, b) => a * b, 1)).fill(i)]));
    const flat = flattenNetwork(cfg, 'D_A', params);
    expect(flat.length).toBe(networkLength(cfg, 'D_A'));
    expect(flat[0]).toBe(0);
    expect(flat[flat.length - 1]).toBe(specs.length - 1);
  });
});

describe('round validation', () => {
  const train = DEFAULT_ROUND_CONFIG.train;
  const lengths = { G_AB: 100, G_BA: 100, D_A: 25, D_B: 25 };
  const norms = { G_AB: 0.01, G_BA: 0.01, D_A: 0.01, D_B: 0.01 };
  const shards = { G_AB: ['a'.repeat(64)], G_BA: ['b'.repeat(64)], D_A: ['c'.repeat(64)], D_B: ['d'.repeat(64)] };
  const req = { samples: 50, steps: 50, norms, shards };
  it('bounds an Adam delta by lr × steps × √params × the Adam step factor', () => {
    // β1 0.5, β2 0.999: (1 − 0.5) / √0.001 ≈ 15.81.
    expect(adamStepFactor(0.5, 0.999)).toBeCloseTo(15.811, 3);
    expect(adamStepFactor(0.9, 0.999)).toBeCloseTo(3.162, 3);
    expect(adamStepFactor(0.99, 0.9)).toBe(1);
    expect(normBound(train, 50, 100)).toBeCloseTo(2e-4 * 50 * 10 * 15.811, 4);
    expect(normBound({ ...train, optimizer: 'sgd', gradClip: 3 }, 1, 1e6)).toBeCloseTo(6e-4, 12);
  });
  it('accepts an honest commit and names what is wrong with others', () => {
    expect(checkCommit(req, train, lengths, norms)).toBeNull();
    expect(checkCommit({ ...req, samples: 51 }, train, lengths, norms)?.reason).toBe('bad_counts');
    expect(checkCommit({ ...req, steps: 51, samples: 1 }, train, lengths, norms)?.reason).toBe('bad_counts');
    expect(checkCommit(req, train, lengths, { ...norms, D_B: 0.02 })?.reason).toBe('norm_mismatch');
    const big = { ...norms, D_A: 100 };
    const r = checkCommit({ ...req, norms: big }, train, lengths, big);
    expect(r?.reason).toBe('norm_too_large');
    expect(r?.message).toMatch(/^D_A: delta norm 100.0 exceeds the bound 0.7906 for 50 adam steps/);
  });
  it('clips at a multiple of the median accepted norm', () => {
    expect(clipBound([1, 3, 2, 100], 2)).toBe(5);
    expect(clipBound([], 2)).toBe(Infinity);
    expect(clipBound([0, 0], 2)).toBe(Infinity);
  });
});

describe('round settings', () => {
  it('follows the reference lambda_rule in steps, as stripes train schedules its iterations', () => {
    // The reference's linear policy with epoch_count 1, as LambdaLR applies it after e scheduler
    // steps: lr · (1 − max(0, e + 1 − n_epochs) / (n_epochs_decay + 1)).
    const s = { lr: 2e-4, constantSteps: 100, decaySteps: 99 };
    expect(innerLrAt(0, s)).toBe(2e-4);
    expect(innerLrAt(98, s)).toBe(2e-4);
    // Position 99 is the last constant step; 100 is the first decayed one.
    expect(innerLrAt(99, s)).toBe(2e-4);
    expect(innerLrAt(100, s)).toBeCloseTo(2e-4 * (1 - 1 / 100), 15);
    expect(innerLrAt(149, s)).toBeCloseTo(1e-4, 12);
    // The run's last step (position 198 of 199) is lr/100; a finished run (199) is 0.
    expect(innerLrAt(198, s)).toBeCloseTo(2e-6, 15);
    expect(innerLrAt(199, s)).toBe(0);
    expect(innerLrAt(1000, s)).toBe(0);
    // Exactly shared/train/schedule.ts for every iteration of runs of several lengths.
    for (const T of [1, 2, 11, 200, 1500]) {
      const { nConst, nDecay } = scheduleSplit(T);
      for (let i = 0; i <= T + 2; i++) expect(innerLrAt(i, { lr: 2e-4, constantSteps: nConst, decaySteps: nDecay })).toBe(learningRate(i, T, 2e-4));
    }
  });
  it('rejects a patch that leaves the config inconsistent, naming the field', () => {
    expect(applyConfigPatch(DEFAULT_ROUND_CONFIG, { quorum: { min: 3 } }).quorum).toEqual({ min: 3, max: 8 });
    expect(() => applyConfigPatch(DEFAULT_ROUND_CONFIG, { quorum: { min: 9 } })).toThrow(/quorum.min must not exceed quorum.max/);
    expect(() => applyConfigPatch(DEFAULT_ROUND_CONFIG, { outer: { generators: { lr: 0.7, momentum: 1, nesterov: true } } })).toThrow(/momentum/);
  });
});
