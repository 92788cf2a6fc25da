// The training data pipeline: Pillow-exact bicubic resize (checked against PIL-made fixtures),
// the reference's resize → random crop → random flip → [-1, 1], and unaligned sampling.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { resizeBicubicRGB } from '../../cli/train/resize.ts';
import { Rng } from '../../cli/train/rng.ts';

const FIX = join(import.meta.dirname, '..', 'fixtures', 'data');

function readRGB(file: string): { data: Uint8Array; width: number; height: number } {
  const png = PNG.sync.read(readFileSync(join(FIX, file)));
  const data = new Uint8Array(png.width * png.height * 3);
  for (let i = 0; i < png.width * png.height; i++) for (let c = 0; c < 3; c++) data[i * 3 + c] = png.data[i * 4 + c];
  return { data, width: png.width, height: png.height };
}

describe('resizeBicubicRGB matches PIL Image.resize(BICUBIC)', () => {
  const index = JSON.parse(readFileSync(join(FIX, 'resize.json'), 'utf8')) as {
    cases: Array<{ input: string; width: number; height: number; file: string }>;
  };
  for (const c of index.cases) {
    it(`${c.input} → ${c.width}×${c.height}`, () => {
      const src = readRGB(`${c.input}.png`);
      const want = readRGB(c.file);
      const got = resizeBicubicRGB(src.data, src.width, src.height, c.width, c.height);
      let maxDiff = 0;
      for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - want.data[i]));
      expect(got.length).toBe(want.data.length);
      expect(maxDiff).toBe(0);
    });
  }
});

describe('Rng', () => {
  it('is deterministic for a seed and resumes exactly from its state', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    expect(Array.from({ length: 5 }, () => a.nextUint32())).toEqual(Array.from({ length: 5 }, () => b.nextUint32()));
    const saved = a.state();
    const next = Array.from({ length: 5 }, () => a.random());
    const c = new Rng(999);
    c.restore(saved);
    expect(Array.from({ length: 5 }, () => c.random())).toEqual(next);
    expect(new Rng(8).nextUint32()).not.toBe(new Rng(7).nextUint32());
  });
  it('draws integers in range and permutations', () => {
    const r = new Rng(1);
    const counts = new Array(3).fill(0);
    for (let i = 0; i < 3000; i++) counts[r.int(3)]++;
    for (const n of counts) expect(n).toBeGreaterThan(850);
    expect([...r.permutation(10)].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
