/**
 * A tiny unpaired translation task whose true mapping is known, for proving that training learns.
 *
 * Domain A: smooth images (a background and three soft blobs) whose every colour has red as its
 * largest channel. The truth T rotates the channels, (r, g, b) → (g, b, r), so domain B holds
 * the same kind of images with blue the largest channel. T is invertible, and the two palettes
 * are disjoint, so neither domain is a colour-permuted copy of itself: a generator that leaves
 * colours alone (or draws them uniformly from the colour cube) is visibly wrong, and the
 * identity loss (G_AB(b) ≈ b) does not contradict T on domain A.
 * B's images are T of images drawn independently of A's: the pairs are unaligned.
 *
 * Run it to write the task as folders: `node cli/run-ts.mjs scripts/synthetic-task.ts OUT [size] [count]`
 * → OUT/trainA, OUT/trainB, OUT/testA (held-out inputs) and OUT/testB_truth (T of testA);
 * `... synthetic-task.ts score RUN_DIR [size]` scores a `stripes train` run on the held-out set.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpointDir } from '../cli/checkpoint-dir.ts';
import { encodePng } from '../cli/image-io.ts';
import { useBackend } from '../cli/tf-backend.ts';
import { toUnit } from '../shared/train/sampling.ts';
import { Rng } from '../shared/train/rng.ts';
import { generator, generatorParamSpecs, type ModelConfig } from '../shared/model/index.ts';
import { decodeGroup, type NetworkParams } from '../shared/weights/checkpoint.ts';

/** Packed RGB bytes of one S×S image. */
export type Pixels = Uint8Array;

function warmColour(rng: Rng): [number, number, number] {
  const c = [rng.random(), rng.random(), rng.random()];
  const m = c.indexOf(Math.max(...c));
  [c[0], c[m]] = [c[m], c[0]];
  return c as [number, number, number];
}

/** One domain-A image: a flat background and three Gaussian blobs blended over it. */
export function blobImage(rng: Rng, size: number): Pixels {
  const img = new Float64Array(size * size * 3);
  const bg = warmColour(rng);
  for (let i = 0; i < size * size; i++) img.set(bg, i * 3);
  for (let k = 0; k < 3; k++) {
    const [cx, cy, r] = [rng.random(), rng.random(), 0.15 + 0.25 * rng.random()];
    const col = warmColour(rng);
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        const d2 = (x / size - cx) ** 2 + (y / size - cy) ** 2;
        const m = Math.exp(-d2 / (2 * r * r));
        const o = (y * size + x) * 3;
        for (let c = 0; c < 3; c++) img[o + c] = img[o + c] * (1 - m) + m * col[c];
      }
  }
  return Uint8Array.from(img, (v) => Math.round(v * 255));
}

/** The true mapping A → B: (r, g, b) → (g, b, r). */
export function truth(x: Pixels): Pixels {
  const y = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i += 3) {
    y[i] = x[i + 1];
    y[i + 1] = x[i + 2];
    y[i + 2] = x[i];
  }
  return y;
}

export interface Task {
  trainA: Pixels[];
  trainB: Pixels[];
  testA: Pixels[];
}

/** The task's images; each set from its own seed, so B's sources are not A's images. */
export function makeTask(size: number, count: number, testCount = 16): Task {
  const gen = (seed: number, n: number) => {
    const rng = new Rng(seed);
    return Array.from({ length: n }, () => blobImage(rng, size));
  };
  return { trainA: gen(1, count), trainB: gen(2, count).map(truth), testA: gen(3, testCount) };
}

/** PSNR in dB of two images with values in [-1, 1] (peak-to-peak 2), over all their values. */
export function psnr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`psnr: lengths differ (${a.length} vs ${b.length})`);
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  return 10 * Math.log10(4 / (se / a.length));
}

/** Mean over images and channels of the Pearson correlation between y and z (HWC, one image each). */
export function structureCorrelation(ys: Float32Array[], zs: Float32Array[]): number {
  let sum = 0;
  let n = 0;
  ys.forEach((y, i) => {
    const z = zs[i];
    const P = y.length / 3;
    for (let c = 0; c < 3; c++) {
      let my = 0;
      let mz = 0;
      for (let p = 0; p < P; p++) {
        my += y[p * 3 + c];
        mz += z[p * 3 + c];
      }
      my /= P;
      mz /= P;
      let syz = 0;
      let syy = 0;
      let szz = 0;
      for (let p = 0; p < P; p++) {
        const a = y[p * 3 + c] - my;
        const b = z[p * 3 + c] - mz;
        syz += a * b;
        syy += a * a;
        szz += b * b;
      }
      sum += syz / (Math.sqrt(syy * szz) + 1e-12);
      n++;
    }
  });
  return sum / n;
}

/** A generator's outputs for square images (HWC floats in [-1, 1]), on the active backend. */
export function translateAll(params: NetworkParams, cfg: ModelConfig, xs: Float32Array[], size: number): Float32Array[] {
  return tf.tidy(() => {
    const p = Object.fromEntries(generatorParamSpecs(cfg.generator).map((s) => [s.name, tf.tensor(params[s.name], s.shape)]));
    return xs.map((x) => generator(p, cfg.generator, tf.tensor4d(x, [1, size, size, 3])).dataSync() as Float32Array);
  });
}

export interface Score {
  /** PSNR (dB) of the outputs against T of the inputs. */
  psnr: number;
  /** structureCorrelation of the outputs with T of the inputs. */
  corr: number;
  /** Fraction of output pixels in domain B's palette (blue strictly the largest channel). */
  inB: number;
}

/** Fraction of pixels (HWC) whose blue channel is strictly the largest: domain B's palette. */
export function paletteB(ys: Float32Array[]): number {
  let hit = 0;
  let n = 0;
  for (const y of ys)
    for (let i = 0; i < y.length; i += 3, n++) if (y[i + 2] > y[i] && y[i + 2] > y[i + 1]) hit++;
  return hit / n;
}

/** How close outputs `ys` of held-out images `xs` (bytes) are to the truth. */
export function scoreOutputs(ys: Float32Array[], xs: Pixels[]): Score {
  const tx = xs.map((img) => Float32Array.from(truth(img), toUnit));
  const flat = (a: Float32Array[]) => Float32Array.from(a.flatMap((v) => Array.from(v)));
  return { psnr: psnr(flat(ys), flat(tx)), corr: structureCorrelation(ys, tx), inB: paletteB(ys) };
}

export function toFloats(xs: Pixels[]): Float32Array[] {
  return xs.map((img) => Float32Array.from(img, toUnit));
}

/**
 * Scores generators on the task's held-out images: G_AB against the truth, and the cycle
 * G_BA(G_AB(x)) against x (PSNR, dB), which only a G_AB that keeps what x holds can make high.
 */
export function scoreGenerators(G_AB: NetworkParams, G_BA: NetworkParams, cfg: ModelConfig, testA: Pixels[], size: number): Score & { cycle: number } {
  const x = toFloats(testA);
  const y = translateAll(G_AB, cfg, x, size);
  const back = translateAll(G_BA, cfg, y, size);
  const flat = (a: Float32Array[]) => Float32Array.from(a.flatMap((v) => Array.from(v)));
  return { ...scoreOutputs(y, testA), cycle: psnr(flat(back), flat(x)) };
}

/** Scores a checkpoint folder's generators (see scoreGenerators). */
export async function scoreCheckpoint(dir: string, testA: Pixels[], size: number): Promise<Score & { cycle: number }> {
  const ckpt = await readCheckpointDir(dir);
  const fetch = (h: string) => ckpt.fetchShard(h);
  const [g, f] = [await decodeGroup(ckpt.manifest, 'G_AB', fetch), await decodeGroup(ckpt.manifest, 'G_BA', fetch)];
  return scoreGenerators(g, f, ckpt.manifest.config, testA, size);
}

export function writeFolder(dir: string, images: Pixels[], size: number): void {
  mkdirSync(dir, { recursive: true });
  images.forEach((data, i) => writeFileSync(join(dir, `${String(i).padStart(4, '0')}.png`), encodePng({ width: size, height: size, data })));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv[2] === 'score') {
    // score RUN_DIR [size]: the held-out PSNR and correlation of a run's latest checkpoint.
    const [dir, sizeArg = '32'] = process.argv.slice(3);
    const size = Number(sizeArg);
    await useBackend('wasm');
    const { testA } = makeTask(size, 0);
    const identity = scoreOutputs(toFloats(testA), testA);
    console.log(JSON.stringify({ trained: await scoreCheckpoint(dir, testA, size), identity }));
    process.exit(0);
  }
  const [out, sizeArg = '32', countArg = '64'] = process.argv.slice(2);
  if (!out) {
    console.error('usage: node cli/run-ts.mjs scripts/synthetic-task.ts OUT [size] [count]\n       node cli/run-ts.mjs scripts/synthetic-task.ts score RUN_DIR [size]');
    process.exit(2);
  }
  const size = Number(sizeArg);
  const t = makeTask(size, Number(countArg));
  writeFolder(join(out, 'trainA'), t.trainA, size);
  writeFolder(join(out, 'trainB'), t.trainB, size);
  writeFolder(join(out, 'testA'), t.testA, size);
  writeFolder(join(out, 'testB_truth'), t.testA.map(truth), size);
  console.log(`wrote ${t.trainA.length}+${t.trainB.length} training and ${t.testA.length} held-out ${size}×${size} images to ${out}`);
}
