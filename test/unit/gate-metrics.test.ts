/**
 * The gate's metrics (shared/gate/metrics.ts) on real images: 64×64 tiles of the demo pair's
 * held-out sample maps (demo/samples/*-before.png; summer = A, winter = B).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../cli/image-io.ts';
import {
  cycleL1,
  laplacianPyramid,
  pyramidSides,
  realismDistance,
  spreadStats,
  swdReference,
  swdTo,
} from '../../shared/gate/metrics.ts';
import { toUnit } from '../../shared/train/sampling.ts';
import { readSafetensors } from '../../shared/weights/safetensors.ts';

function tiles(domain: 'summer-to-winter' | 'winter-to-summer'): Float32Array[] {
  const out: Float32Array[] = [];
  for (const i of [1, 2, 3]) {
    const img = decodeImage(readFileSync(new URL(`../../demo/samples/${domain}-${i}-before.png`, import.meta.url)));
    for (let ty = 0; ty + 64 <= img.height; ty += 64)
      for (let tx = 0; tx + 64 <= img.width; tx += 64) {
        const t = new Float32Array(64 * 64 * 3);
        for (let y = 0; y < 64; y++)
          for (let j = 0; j < 64 * 3; j++) t[y * 64 * 3 + j] = toUnit(img.data[((ty + y) * img.width + tx) * 3 + j]);
        out.push(t);
      }
  }
  return out;
}
const summer = tiles('summer-to-winter');
const winter = tiles('winter-to-summer');
// Disjoint thirds of each domain's 48 tiles.
const third = (all: Float32Array[], k: number) => all.filter((_, i) => i % 3 === k);

describe('cycleL1', () => {
  it('is the mean absolute difference', () => {
    expect(cycleL1(Float32Array.from([0, 1, -1, 0.5]), Float32Array.from([0, 0.5, -1, -0.5]))).toBeCloseTo(0.375, 7);
    expect(cycleL1(summer[0], summer[0])).toBe(0);
    expect(() => cycleL1(new Float32Array(3), new Float32Array(6))).toThrow(/3 values but its reconstruction 6/);
  });
});

describe('realism distance (multi-scale patch sliced Wasserstein)', () => {
  const refWinter = swdReference(third(winter, 0), 64, 64);

  it('is exactly 0 for the reference set itself and small for other tiles of the same domain', () => {
    expect(swdTo(refWinter, third(winter, 0))).toEqual({ distance: 0, perLevel: [0, 0, 0] });
    const same = swdTo(refWinter, third(winter, 1)).distance;
    const other = swdTo(refWinter, third(summer, 0)).distance;
    expect(same).toBeGreaterThan(0);
    expect(other).toBeGreaterThan(4 * same); // summer is far from winter
  });

  it('scores colour-inverted, constant and noise sets clearly worse than real images of the domain', () => {
    const same = swdTo(refWinter, third(winter, 1)).distance;
    const inverted = swdTo(refWinter, third(winter, 1).map((x) => x.map((v) => -v))).distance;
    const constant = swdTo(refWinter, third(winter, 1).map((x) => new Float32Array(x.length).fill(0.4))).distance;
    let s = 1;
    const noise = third(winter, 1).map((x) => x.map(() => ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1));
    for (const bad of [inverted, constant, swdTo(refWinter, noise).distance]) expect(bad).toBeGreaterThan(4 * same);
  });

  it('is deterministic for a seed, changes a little with the seed, and compares sets of different sizes', () => {
    const imgs = third(summer, 2);
    const a = realismDistance(imgs, third(winter, 0), 64, 64, { seed: 7 });
    expect(realismDistance(imgs, third(winter, 0), 64, 64, { seed: 7 })).toBe(a);
    const b = realismDistance(imgs, third(winter, 0), 64, 64, { seed: 8 });
    expect(b).not.toBe(a);
    expect(Math.abs(b - a) / a).toBeLessThan(0.1);
    expect(swdTo(refWinter, imgs.slice(0, 5)).distance).toBeGreaterThan(0);
  });

  it('is cheap: 16 images of 64×64 against a prepared reference well under a second of CPU', () => {
    const imgs = third(summer, 1);
    const t0 = process.cpuUsage();
    const ref = swdReference(third(winter, 0), 64, 64);
    const t1 = process.cpuUsage(t0);
    swdTo(ref, imgs);
    const t2 = process.cpuUsage(t0);
    const ms = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
    expect(ms(t1)).toBeLessThan(1000);
    expect(ms(t2) - ms(t1)).toBeLessThan(1000);
  });

  it('rejects mismatched sizes and bad options with a message', () => {
    expect(() => swdTo(refWinter, [new Float32Array(32 * 32 * 3)])).toThrow(/image 0 has 3072 values, expected 12288 for 64×64×3/);
    expect(() => swdTo(refWinter, [])).toThrow(/empty/);
    expect(() => swdReference(third(winter, 0), 64, 64, { patchSize: 6 })).toThrow(/patchSize must be odd/);
    expect(() => swdReference([new Float32Array(8 * 8 * 3)], 8, 8)).toThrow(/smaller than the 16-pixel coarsest level/);
  });
});

describe('Laplacian pyramid', () => {
  it('matches the PyTorch pyramid within 1e-5 (36×44 down to 5×6: odd sizes; scripts/make_gate_fixtures.py)', () => {
    const file = 'pyramid.safetensors';
    const { tensors, metadata } = readSafetensors(readFileSync(new URL(`../fixtures/gate/${file}`, import.meta.url)), file);
    const [h, w, minSide] = [metadata.height, metadata.width, metadata.minSide].map(Number);
    const levels = laplacianPyramid(tensors.get('input')!.data, h, w, minSide);
    expect(levels.length).toBe(4);
    expect(pyramidSides(h, w, minSide)).toEqual([[36, 44], [18, 22], [9, 11], [5, 6]]);
    levels.forEach((got, i) => {
      const want = tensors.get(`level${i}`)!;
      expect(got.length, `level ${i}`).toBe(want.data.length);
      let err = 0;
      for (let j = 0; j < got.length; j++) err = Math.max(err, Math.abs(got[j] - want.data[j]));
      expect(err, `level ${i}`).toBeLessThanOrEqual(1e-5);
    });
  });

  it('halves down to 16 pixels on the shorter side', () => {
    expect(pyramidSides(64, 64)).toEqual([[64, 64], [32, 32], [16, 16]]);
    expect(pyramidSides(36, 44)).toEqual([[36, 44], [18, 22]]);
    expect(pyramidSides(256, 128)).toEqual([[256, 128], [128, 64], [64, 32], [32, 16]]);
  });

  it('has zero band-pass levels for a constant image and keeps it in the coarsest level', () => {
    const x = new Float32Array(32 * 32 * 3).fill(0.25);
    const [lap, coarse] = laplacianPyramid(x, 32, 32);
    expect(Math.max(...lap.map(Math.abs))).toBeLessThan(1e-6);
    expect(coarse.length).toBe(16 * 16 * 3);
    expect(Math.max(...coarse.map((v) => Math.abs(v - 0.25)))).toBeLessThan(1e-6);
  });

  it('puts a fine checkerboard in the finest level and (almost) nothing in the coarsest', () => {
    const x = Float32Array.from({ length: 32 * 32 * 3 }, (_, i) => ((Math.floor(i / 3) % 32) + Math.floor(i / 96)) % 2 ? 0.5 : -0.5);
    const [lap, coarse] = laplacianPyramid(x, 32, 32);
    const rms = (a: Float32Array) => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
    expect(rms(lap)).toBeGreaterThan(0.4);
    expect(rms(coarse)).toBeLessThan(0.05);
  });
});

describe('spreadStats', () => {
  it('is zero for constant outputs, between-image zero for one repeated picture, NaN-flagged when not finite', () => {
    const c = spreadStats(Array.from({ length: 8 }, () => new Float32Array(64 * 64 * 3).fill(0.3)));
    expect(c).toMatchObject({ std: 0, betweenImageStd: 0, finite: true });
    const same = spreadStats(Array.from({ length: 8 }, () => winter[0]));
    expect(same.std).toBeGreaterThan(0.1);
    expect(same.betweenImageStd).toBe(0);
    const real = spreadStats(third(winter, 0));
    expect(real.betweenImageStd).toBeGreaterThan(0.1);
    expect(real.channelStd.every((v) => v > 0.1)).toBe(true);
    const nan = third(winter, 0).map((x) => x.slice());
    nan[3][17] = NaN;
    expect(spreadStats(nan)).toMatchObject({ finite: false });
    expect(spreadStats(nan).std).toBeNaN();
    expect(() => spreadStats([new Float32Array(6), new Float32Array(9)])).toThrow(/image 1 has 9 values, image 0 has 6/);
  });

  it('matches a direct computation of per-channel std', () => {
    const imgs = [Float32Array.from([0, 0, 0, 1, 1, 1]), Float32Array.from([1, -1, 0, 1, -1, 0])];
    const s = spreadStats(imgs);
    // R over 4 pixels: 0,1,1,1 → std sqrt(3)/4; G: 0,1,-1,-1 → mean -0.25; B: 0,1,0,0 → sqrt(3)/4
    expect(s.channelStd[0]).toBeCloseTo(Math.sqrt(3) / 4, 7);
    expect(s.channelStd[1]).toBeCloseTo(Math.sqrt((0.0625 + 1.5625 + 0.5625 * 2) / 4), 7);
    // Between images, per value: |0−1|/2, |0+1|/2, 0, 0, |1+1|/2, |1−0|/2 → mean (0.5+0.5+0+0+1+0.5)/6
    expect(s.betweenImageStd).toBeCloseTo(2.5 / 6, 7);
  });
});
