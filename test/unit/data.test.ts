// The training data pipeline: Pillow-exact bicubic resize (checked against PIL-made fixtures),
// the reference's resize → random crop → random flip → [-1, 1], and unaligned sampling.
import { describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { resizeBicubicRGB } from '../../shared/train/resize.ts';
import { Rng } from '../../shared/train/rng.ts';
import { listImages, loadDomain } from '../../cli/train/data.ts';
import { cropFlipInto, toUnit, UnalignedSampler } from '../../shared/train/sampling.ts';

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

describe('preprocessing as the reference', () => {
  const index = JSON.parse(readFileSync(join(FIX, 'resize.json'), 'utf8')) as { to_unit: number[] };

  it('maps bytes to [-1, 1] exactly as torchvision ToTensor + Normalize(0.5, 0.5)', () => {
    for (let v = 0; v < 256; v++) expect(toUnit(v)).toBe(Math.fround(index.to_unit[v]));
  });

  it('crops a load×load image at a random window and flips it half the time', () => {
    const L = 5;
    const C = 3;
    const img = new Uint8Array(L * L * 3);
    for (let i = 0; i < img.length; i++) img[i] = i;
    const seen = new Set<string>();
    let flips = 0;
    const trials = 400;
    for (let seed = 0; seed < trials; seed++) {
      const rng = new Rng(seed);
      const probe = new Rng(seed);
      const top = probe.int(L - C + 1);
      const left = probe.int(L - C + 1);
      const flip = probe.random() < 0.5;
      const out = new Float32Array(C * C * 3);
      cropFlipInto(img, { loadSize: L, cropSize: C, flip: true }, rng, out);
      for (let y = 0; y < C; y++)
        for (let x = 0; x < C; x++)
          for (let c = 0; c < 3; c++) {
            const sx = left + (flip ? C - 1 - x : x);
            expect(out[(y * C + x) * 3 + c]).toBe(toUnit(img[((top + y) * L + sx) * 3 + c]));
          }
      seen.add(`${top},${left}`);
      if (flip) flips++;
    }
    expect(seen.size).toBe((L - C + 1) ** 2);
    expect(flips).toBeGreaterThan(trials * 0.35);
    expect(flips).toBeLessThan(trials * 0.65);
  });

  it('never flips with --no-flip', () => {
    const img = Uint8Array.from({ length: 4 * 4 * 3 }, (_, i) => i);
    for (let seed = 0; seed < 50; seed++) {
      const out = new Float32Array(4 * 4 * 3);
      cropFlipInto(img, { loadSize: 4, cropSize: 4, flip: false }, new Rng(seed), out);
      expect(Array.from(out)).toEqual(Array.from(img, toUnit));
    }
  });
});

describe('unaligned sampling', () => {
  it('visits every A once per epoch in a shuffled order and draws B at random', () => {
    const s = new UnalignedSampler(6, 4, new Rng(3));
    const epoch1 = Array.from({ length: 6 }, () => s.next());
    const epoch2 = Array.from({ length: 6 }, () => s.next());
    expect(epoch1.map((p) => p.a).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(epoch2.map((p) => p.a).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(epoch1.map((p) => p.a)).not.toEqual(epoch2.map((p) => p.a));
    const bs = [...epoch1, ...epoch2].map((p) => p.b);
    expect(bs.every((b) => b >= 0 && b < 4)).toBe(true);
    expect(new Set(bs).size).toBeGreaterThan(1);
  });

  it('cycles the smaller A within an epoch of max(|A|, |B|) items', () => {
    const s = new UnalignedSampler(2, 5, new Rng(4));
    const as = Array.from({ length: 5 }, () => s.next().a);
    expect(as.every((a) => a === 0 || a === 1)).toBe(true);
  });

  it('resumes the same stream from a saved state', () => {
    const rng = new Rng(9);
    const s = new UnalignedSampler(5, 3, rng);
    for (let i = 0; i < 7; i++) s.next();
    const saved = { sampler: s.state(), rng: rng.state() };
    const rest = Array.from({ length: 9 }, () => s.next());
    const rng2 = new Rng(0);
    rng2.restore(saved.rng);
    const s2 = new UnalignedSampler(5, 3, rng2);
    s2.restore(saved.sampler);
    expect(Array.from({ length: 9 }, () => s2.next())).toEqual(rest);
    expect(() => new UnalignedSampler(4, 3, new Rng(0)).restore(saved.sampler)).toThrow(/folders changed/);
  });
});

describe('loading folders', () => {
  it('resizes every readable image to load×load and skips, with a warning, the unreadable ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stripes-data-'));
    copyFileSync(join(FIX, 'noise.png'), join(dir, 'b.png'));
    copyFileSync(join(FIX, 'smooth.png'), join(dir, 'a.PNG'));
    writeFileSync(join(dir, 'broken.jpg'), 'not a jpeg');
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
    const warnings: string[] = [];
    const dom = loadDomain(dir, '--a', 16, undefined, (m) => warnings.push(m));
    expect(dom.paths.map((p) => p.slice(dir.length + 1))).toEqual(['a.PNG', 'b.png']);
    expect(dom.images.every((im) => im.length === 16 * 16 * 3)).toBe(true);
    const src = readRGB('noise.png');
    expect(Array.from(dom.images[1])).toEqual(Array.from(resizeBicubicRGB(src.data, src.width, src.height, 16, 16)));
    expect(dom.skipped.map((s) => s.path)).toEqual([join(dir, 'broken.jpg')]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toBe(`warning: skipping ${join(dir, 'broken.jpg')}: not a PNG or JPEG file`);
  });

  it('refuses a missing folder, a file, an empty folder and a folder of only unreadable images, in one line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stripes-data-'));
    expect(() => listImages(join(dir, 'nope'), '--a')).toThrow(/^--a .*nope: no such folder$/);
    writeFileSync(join(dir, 'f.png'), 'x');
    expect(() => listImages(join(dir, 'f.png'), '--b')).toThrow(/not a folder/);
    mkdirSync(join(dir, 'empty'));
    expect(() => listImages(join(dir, 'empty'), '--a')).toThrow(/no images/);
    expect(() => loadDomain(dir, '--a', 8)).toThrow(/none of the 1 image files could be read/);
  });
});
