import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  aggregateArrays,
  aggregateStream,
  chunkElements,
  clipScales,
  MemoryMeter,
  trimCount,
  type AggregateMode,
} from '../../shared/rounds/aggregate.ts';
import { DEFAULT_OUTER, outerSettingsFor, outerStep } from '../../shared/rounds/outer-optimizer.ts';

// Made by test/rounds/make_aggregate_fixture.py: numpy for the aggregation rules, torch.optim.SGD for the outer step.
const fx = JSON.parse(readFileSync(new URL('../rounds/fixtures/aggregate.json', import.meta.url), 'utf8'));
const deltas: Float32Array[] = fx.deltas.map((d: number[]) => Float32Array.from(d));

function expectClose(actual: ArrayLike<number>, expected: number[], tol: number) {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  expect(worst).toBeLessThan(tol);
}

describe('aggregation rules by hand', () => {
  it('weights the mean by samples after clipping each delta to the bound', async () => {
    // Norms 5 and 1; bound 2.5 halves the first. (3·(0.5·[3,4]) + 1·[0,1]) / 4 = [1.125, 1.75].
    const out = await aggregateArrays([new Float32Array([3, 4]), new Float32Array([0, 1])], [3, 1], { mode: 'mean', clip: 2.5 });
    expect(Array.from(out)).toEqual([1.125, 1.75]);
  });
  it('trims the k smallest and largest per coordinate', async () => {
    const ds = [[1, 10], [2, -100], [3, 20], [1000, 30], [4, 40]].map((d) => Float32Array.from(d));
    const out = await aggregateArrays(ds, [1, 1, 1, 1, 1], { mode: 'trimmed-mean', clip: Infinity, trimFraction: 0.2 });
    expect(Array.from(out)).toEqual([3, 20]);
    expect(trimCount(5, 0.2)).toBe(1);
    expect(trimCount(8, 0.125)).toBe(1);
    expect(() => trimCount(4, 0.5)).toThrow(/trimFraction/);
  });
  it('centres and clips: a far outlier moves the result by at most tau/n', async () => {
    const ds = [[1, 0], [1, 0], [1, 0], [1001, 0]].map((d) => Float32Array.from(d));
    const out = await aggregateArrays(ds, [1, 1, 1, 1], { mode: 'centred-clip', clip: Infinity, tau: 2, centre: new Float32Array([1, 0]) });
    expect(Array.from(out)).toEqual([1.5, 0]);
  });
  it('clip scales leave small deltas alone', () => {
    expect(clipScales([1, 4, 0], 2)).toEqual([1, 0.5, 1]);
  });
});

describe('aggregation against the numpy reference', () => {
  it('sample-weighted mean of norm-clipped deltas', async () => {
    expectClose(await aggregateArrays(deltas, fx.samples, { mode: 'mean', clip: fx.clip }), fx.mean, 1e-9);
  });
  it('coordinate-wise trimmed mean', async () => {
    expectClose(await aggregateArrays(deltas, fx.samples, { mode: 'trimmed-mean', clip: fx.clip, trimFraction: fx.trimFraction }), fx.trimmed, 1e-9);
  });
  it('centred clipping around a given centre with tau = median distance', async () => {
    const centre = Float32Array.from(fx.centre);
    expectClose(await aggregateArrays(deltas, fx.samples, { mode: 'centred-clip', clip: Infinity, centre }), fx.centred, 1e-9);
  });
  it('centred clipping around zero with a given tau', async () => {
    expectClose(await aggregateArrays(deltas, fx.samples, { mode: 'centred-clip', clip: Infinity, tau: fx.tau0 }), fx.centredZero, 1e-9);
  });
  it('gives the same answer whatever the slice size (up to float64 summation order)', async () => {
    for (const mode of ['mean', 'trimmed-mean', 'centred-clip'] as AggregateMode[]) {
      const whole = await aggregateArrays(deltas, fx.samples, { mode, clip: fx.clip, centre: Float32Array.from(fx.centre) });
      const sliced = await aggregateArrays(deltas, fx.samples, { mode, clip: fx.clip, centre: Float32Array.from(fx.centre), chunk: 4 });
      expectClose(sliced, Array.from(whole), 1e-15);
    }
  });
});

describe('outer optimizer (DiLoCo) against torch.optim.SGD', () => {
  const run = (lr: number, momentum: number, nesterov: boolean) => {
    const params = Float32Array.from(fx.p0);
    const mom = new Float32Array(params.length);
    return fx.outerDeltas.map((d: number[]) => {
      outerStep(params, mom, d, { lr, momentum, nesterov });
      return Array.from(params);
    });
  };
  it('Nesterov lr 0.7 momentum 0.9 on the pseudo-gradient −Δ̄, three rounds', () => {
    run(0.7, 0.9, true).forEach((p: number[], t: number) => expectClose(p, fx.nesterov[t], 1e-6));
  });
  it('heavy-ball momentum when nesterov is off', () => {
    run(0.5, 0.8, false).forEach((p: number[], t: number) => expectClose(p, fx.heavyBall[t], 1e-6));
  });
  it('lr 1 and no momentum is plain averaging', () => {
    const params = new Float32Array([1, 2]);
    outerStep(params, new Float32Array(2), [0.5, -0.25], { lr: 1, momentum: 0, nesterov: true });
    expect(Array.from(params)).toEqual([1.5, 1.75]);
  });
  it('picks the generator or discriminator settings by network', () => {
    const cfg = { ...DEFAULT_OUTER, discriminators: { lr: 0.3, momentum: 0.5, nesterov: false } };
    expect(outerSettingsFor(cfg, 'G_BA').lr).toBe(0.7);
    expect(outerSettingsFor(cfg, 'D_A').lr).toBe(0.3);
  });
});

describe('aggregator memory stays bounded as contributors grow', () => {
  const length = 10_000;
  const shardElements = 2_048;
  const budget = 64 * 1024;
  // Each contributor's slice is made on demand, as the round reads it from storage.
  const reader = (i: number, start: number, count: number) => {
    const v = new Float32Array(count);
    for (let j = 0; j < count; j++) v[j] = Math.sin(i * 7 + start + j);
    return v;
  };
  const peak = async (mode: AggregateMode, n: number) => {
    const meter = new MemoryMeter();
    const info = Array.from({ length: n }, () => ({ samples: 1, norm: 1 }));
    const chunk = chunkElements(mode, n, shardElements, budget);
    await aggregateStream(length, info, reader, { mode, clip: Infinity, chunk, meter, readCentre: mode === 'centred-clip' ? (s, c) => reader(99, s, c) : undefined }, () => {});
    expect(meter.live).toBe(0);
    return meter.peak;
  };
  it('mean and centred clipping hold one slice per contributor at a time', async () => {
    for (const mode of ['mean', 'centred-clip'] as AggregateMode[]) {
      const p2 = await peak(mode, 2);
      expect(await peak(mode, 8)).toBe(p2);
      expect(await peak(mode, 32)).toBe(p2);
      // Accumulator (f64) + one contributor slice (f32) + the centre slice.
      expect(p2).toBeLessThanOrEqual(shardElements * (8 + 4 + 4));
    }
  });
  it('trimmed mean shrinks its slices so all contributors fit the budget', async () => {
    for (const n of [2, 8, 32, 128]) {
      const p = await peak('trimmed-mean', n);
      const chunk = chunkElements('trimmed-mean', n, shardElements, budget);
      // n float32 slices within the budget, plus the f64 output slice and one sorting column.
      expect(p).toBeLessThanOrEqual(budget + chunk * 8 + n * 8);
    }
  });
});
