/**
 * The tiled generator (shared/model/tiled.ts) against the whole-image generator: with every
 * instance norm on whole-image statistics, tiles of any size give the same floats up to float
 * error, for odd image sizes (padded to ×4 and cropped back) and at every tile seam. The same
 * for the distilled student (`mobileGenerator`), whose separable blocks the runner walks too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import { useBackend, type NodeBackend } from '../../cli/tf-backend.ts';
import {
  generator,
  generatorParamSpecs,
  mobileGenerator,
  mulberry32,
  normalStream,
  STUDENT_ARCH,
  studentParamSpecs,
  type GeneratorConfig,
  type Params,
  type StudentConfig,
} from '../../shared/model/index.ts';
import { cropOutput, toInput, type ByteImage } from '../../shared/model/pixels.ts';
import { generatorTiled, generatorTiledInto, planTiles, tileForBudget, type TiledConfig } from '../../shared/model/tiled.ts';

const CFG: GeneratorConfig = { ngf: 8, nBlocks: 2 };
const STUDENT: StudentConfig = { arch: STUDENT_ARCH, ngf: 8, nBlocks: 2 };

/** Weights with He-like scale and non-zero biases, so every layer's statistics matter (N(0, 0.02) would give a flat grey). */
function randomParams(cfg: TiledConfig, seed: number): Params {
  const normal = normalStream(seed);
  const params: Params = {};
  const specs = 'arch' in cfg ? studentParamSpecs(cfg) : generatorParamSpecs(cfg);
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    // A depthwise filter [k, k, c, 1] sums k·k inputs per output.
    const fanIn = s.kind === 'depthwise' ? s.shape[0] * s.shape[1] : s.shape.length === 4 ? s.shape[0] * s.shape[1] * s.shape[2] : 1;
    const std = s.shape.length === 4 ? Math.sqrt(2 / fanIn) : 0.3;
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = normal() * std + (s.shape.length === 1 ? 0.1 : 0);
    params[s.name] = tf.tensor(v, s.shape, 'float32');
  }
  return params;
}

/** A photo-like test image: smooth gradients, a few edges and noise. */
function testImage(width: number, height: number, channels: 3 | 4, seed: number): ByteImage {
  const rnd = mulberry32(seed);
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * channels;
      const edge = (x + 2 * y) % 37 < 9 ? 60 : 0;
      data[i] = Math.min(255, (x * 255) / width + edge + rnd() * 30);
      data[i + 1] = Math.min(255, (y * 255) / height + rnd() * 30);
      data[i + 2] = Math.min(255, 128 + 100 * Math.sin(x / 7) * Math.cos(y / 5) + rnd() * 20);
      if (channels === 4) data[i + 3] = 200;
    }
  return { width, height, channels, data };
}

function wholeImage(params: Params, cfg: TiledConfig, img: ByteImage): Float32Array {
  const net = (x: ReturnType<typeof toInput>) => ('arch' in cfg ? mobileGenerator(params, cfg, x) : generator(params, cfg, x));
  const y = tf.tidy(() => cropOutput(net(toInput(img)), img.width, img.height));
  const v = y.dataSync() as Float32Array;
  y.dispose();
  return v;
}

async function tiledFloats(params: Params, cfg: TiledConfig, img: ByteImage, tile: number): Promise<Float32Array> {
  const out = new Float32Array(img.width * img.height * 3);
  const covered = new Uint8Array(img.width * img.height);
  await generatorTiledInto(
    params,
    cfg,
    img,
    (v, x0, y0, w, h) => {
      for (let y = 0; y < h; y++) {
        out.set(v.subarray(y * w * 3, (y + 1) * w * 3), ((y0 + y) * img.width + x0) * 3);
        for (let x = 0; x < w; x++) covered[(y0 + y) * img.width + x0 + x]++;
      }
    },
    { tile },
  );
  // Every output pixel comes from exactly one tile.
  expect(covered.every((c) => c === 1)).toBe(true);
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('tile plans', () => {
  it('splits the ×4-padded image evenly into tiles of at most the tile side, on multiples of 4', () => {
    const p = planTiles(150, 101, CFG, 40);
    expect([p.paddedWidth, p.paddedHeight]).toEqual([152, 104]);
    for (const cuts of [p.rows, p.cols]) {
      expect(cuts[0]).toBe(0);
      for (let i = 1; i < cuts.length; i++) {
        expect(cuts[i] % 4).toBe(0);
        expect(cuts[i] - cuts[i - 1]).toBeGreaterThan(0);
        expect(cuts[i] - cuts[i - 1]).toBeLessThanOrEqual(44);
      }
    }
    expect(p.rows.at(-1)).toBe(104);
    expect(p.cols.at(-1)).toBe(152);
    expect(p.passes).toBe(3 + 2 * 2 + 3);
    expect(p.planeBytes).toBe(3 * 152 * 104 * 8);
    // The student's blocks take four passes each (two separable convs, two norms in each).
    const q = planTiles(150, 101, STUDENT, 40);
    expect(q.passes).toBe(3 + 4 * 2 + 3);
    expect([q.rows, q.cols]).toEqual([p.rows, p.cols]);
  });

  it('picks a tile side from the memory budget: smaller for wider networks, never below 16', () => {
    expect(tileForBudget({ ngf: 16, nBlocks: 6 })).toBeGreaterThan(tileForBudget({ ngf: 64, nBlocks: 9 }));
    expect(tileForBudget({ ngf: 16, nBlocks: 6 }) % 4).toBe(0);
    expect(tileForBudget({ ngf: 64, nBlocks: 9 }, 1000)).toBe(16);
    const p = planTiles(2048, 1536, { ngf: 16, nBlocks: 6 });
    expect(p.tileBytes).toBeLessThanOrEqual(96 * 2 ** 20);
    expect(p.tilesPerPass).toBeGreaterThan(1);
  });

  it('refuses an image smaller than 8 pixels a side', () => {
    expect(() => planTiles(7, 100, CFG)).toThrow(/at least 8/);
  });
});

const NETS: Array<[string, TiledConfig]> = [
  ['generator', CFG],
  ['student (mobileGenerator)', STUDENT],
];

for (const [netName, CFG] of NETS)
for (const backend of ['wasm', 'cpu'] as NodeBackend[]) {
  describe(`tiled ${netName} == whole-image ${netName} (${backend})`, () => {
    let params: Params;
    beforeAll(async () => {
      expect(await useBackend(backend)).toBe(backend);
      params = randomParams(CFG, 7);
    });
    afterAll(() => Object.values(params).forEach((t: Tensor) => t.dispose()));

    const cases: Array<[number, number, number]> =
      backend === 'wasm'
        ? [
            [150, 100, 40], // sides multiples of 4 after padding 150 → 152
            [150, 100, 16], // the smallest tiles: 10×7 of them
            [97, 61, 24], // both sides odd: padded to 100×64 and cropped back
            [150, 100, 1000], // one tile
          ]
        : [[53, 37, 20]];
    for (const [w, h, tile] of cases) {
      it(`${w}×${h} in tiles of ${tile}: within 1e-4 everywhere`, async () => {
        const img = testImage(w, h, 3, w * h);
        const want = wholeImage(params, CFG, img);
        // The network's output is not flat: differences at seams would show.
        let spread = 0;
        for (let i = 0; i < want.length; i += 3) spread = Math.max(spread, Math.abs(want[i] - want[0]));
        expect(spread).toBeGreaterThan(0.3);
        const before = tf.memory().numTensors;
        const got = await tiledFloats(params, CFG, img, tile);
        expect(tf.memory().numTensors).toBe(before);
        const err = maxAbsDiff(got, want);
        console.log(`tiled ${netName} ${backend} ${w}×${h} tile ${tile}: max |diff| ${err.toExponential(2)}`);
        expect(err).toBeLessThan(1e-4);
      });
    }

    if (backend === 'wasm') {
      it("writes RGBA bytes within one level of the whole image's", async () => {
        const img = testImage(70, 47, 4, 3);
        const want = wholeImage(params, CFG, img);
        const got = await generatorTiled(params, CFG, img, { tile: 20 });
        expect(got.channels).toBe(4);
        let worst = 0;
        for (let i = 0, j = 0; j < want.length; i += 4, j += 3) {
          expect(got.data[i + 3]).toBe(255);
          for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(got.data[i + c] - Math.round((want[j + c] + 1) * 127.5)));
        }
        expect(worst).toBeLessThanOrEqual(1);
      });

      it('reports progress per tile and stops at once when aborted', async () => {
        const img = testImage(64, 64, 3, 5);
        const plan = planTiles(64, 64, CFG, 32);
        const seen: number[] = [];
        const ctl = new AbortController();
        const before = tf.memory().numTensors;
        await expect(
          generatorTiled(params, CFG, img, {
            tile: 32,
            signal: ctl.signal,
            onProgress: (p) => {
              seen.push(p.done);
              expect(p.total).toBe(plan.passes * plan.tilesPerPass);
              if (p.done === 6) ctl.abort(new Error('cancelled'));
            },
          }),
        ).rejects.toThrow('cancelled');
        expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
        expect(tf.memory().numTensors).toBe(before);
        // Unaborted, progress ends at the total with fraction 1.
        let last = { done: 0, total: 0, fraction: 0 };
        await generatorTiled(params, CFG, img, { tile: 32, onProgress: (p) => (last = p) });
        expect(last.done).toBe(last.total);
        expect(last.fraction).toBeCloseTo(1, 9);
      });
    }
  });
}
