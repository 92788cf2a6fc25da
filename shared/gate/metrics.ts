/**
 * What the quality gate measures on a generator's outputs, without any discriminator (a round's
 * discriminators are trained by the same contributors, so they cannot referee the generators).
 * Images are HWC Float32Arrays in [-1, 1], 3 channels. Plain TypeScript, deterministic.
 *
 * - `cycleL1`: mean absolute error between an image and its reconstruction F(G(x)).
 * - Realism: the sliced Wasserstein distance (SWD) between the multi-scale patch statistics of
 *   two image sets, as Karras et al. 2018 ("Progressive growing of GANs", §5 and their
 *   `sliced_wasserstein.py`) use to evaluate GANs: each image's Laplacian pyramid (5-tap binomial
 *   filter, down to 16 pixels on the shorter side), 7×7×3 patch descriptors at seeded random
 *   positions of every level, each channel normalised, projected on seeded random unit
 *   directions; the distance is the mean, over directions, of the L1 distance between the two
 *   sorted projections (the 1-D Wasserstein-1 distance), averaged over levels. Fine levels catch
 *   texture (noise, checkerboards, blur); the coarsest level catches colour and layout.
 *
 *   One deliberate change from Karras: descriptors are normalised with the *reference* set's
 *   per-channel mean and std at that level, not each set with its own. Self-normalisation would
 *   make a colour-shifted, colour-inverted or washed-out set look almost like the reference
 *   (and divide by zero for a constant set); with the reference's statistics, the candidate and
 *   the base are measured in the same units against the same real images.
 * - `spreadStats`: how much outputs vary (per channel over all pixels and images, and between
 *   images at the same pixel): collapse shows as a near-zero spread.
 */
import { Rng } from '../train/rng.ts';

/** Mean absolute error between two images (or any two arrays) of equal length. */
export function cycleL1(x: Float32Array, reconstructed: Float32Array): number {
  if (x.length !== reconstructed.length)
    throw new Error(`cycleL1: the image has ${x.length} values but its reconstruction ${reconstructed.length}`);
  if (x.length === 0) throw new Error('cycleL1: empty image');
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.abs(x[i] - reconstructed[i]);
  return s / x.length;
}

/** True when every value is a finite number. */
export function allFinite(x: Float32Array): boolean {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Sliced Wasserstein distance over Laplacian-pyramid patches

export interface SwdOptions {
  /** Seeds both the patch positions and the projection directions. */
  seed: number;
  /** Random unit directions the descriptors are projected on. */
  directions: number;
  /** Descriptors drawn per pyramid level, spread round-robin over the set's images. */
  descriptorsPerLevel: number;
  /** Patch side (odd). */
  patchSize: number;
  /** The pyramid stops at the first level whose shorter side is below twice this (Karras: 16). */
  minSide: number;
}

/**
 * Karras et al.'s settings, but 128 directions once rather than 4×128 (the directions are fixed
 * by the seed, so both sides of a comparison see the same ones) and 2048 descriptors per level in
 * all (Karras: 128 per image; 16 images × 128). At 64×64 that is 3 levels (64, 32, 16).
 */
export const DEFAULT_SWD_OPTIONS: Readonly<SwdOptions> = Object.freeze({
  seed: 1,
  directions: 128,
  descriptorsPerLevel: 2048,
  patchSize: 7,
  minSide: 16,
});

/** The real images' side of the comparison, computed once and compared against many sets. */
export interface SwdReference {
  readonly height: number;
  readonly width: number;
  readonly options: Readonly<SwdOptions>;
  /** Per level: the reference's per-channel mean and std, and its projections, sorted, `[direction][descriptor]`. */
  readonly levels: readonly { mean: Float64Array; std: Float64Array; sorted: Float32Array[] }[];
  /** Unit directions, `[direction][descriptor dimension]`. */
  readonly dirs: Float32Array;
}

export interface SwdResult {
  /** Mean over levels: what the gate compares. */
  distance: number;
  /** Finest level first. */
  perLevel: number[];
}

function resolveOptions(opts: Partial<SwdOptions> | undefined): SwdOptions {
  const o = { ...DEFAULT_SWD_OPTIONS, ...opts };
  const int = (v: number, lo: number, what: string) => {
    if (!Number.isInteger(v) || v < lo) throw new Error(`swd: ${what} must be an integer ≥ ${lo}, got ${v}`);
  };
  int(o.directions, 1, 'directions');
  int(o.descriptorsPerLevel, 2, 'descriptorsPerLevel');
  int(o.patchSize, 1, 'patchSize');
  int(o.minSide, o.patchSize, 'minSide (at least patchSize)');
  if (o.patchSize % 2 !== 1) throw new Error(`swd: patchSize must be odd, got ${o.patchSize}`);
  if (!Number.isInteger(o.seed)) throw new Error(`swd: seed must be an integer, got ${o.seed}`);
  return o;
}

/** Pyramid level sizes, finest first: halve (rounding up) while the shorter side stays ≥ minSide. */
export function pyramidSides(height: number, width: number, minSide = DEFAULT_SWD_OPTIONS.minSide): [number, number][] {
  const out: [number, number][] = [[height, width]];
  let h = height;
  let w = width;
  while (Math.min(Math.ceil(h / 2), Math.ceil(w / 2)) >= minSide) {
    h = Math.ceil(h / 2);
    w = Math.ceil(w / 2);
    out.push([h, w]);
  }
  return out;
}

const BINOMIAL = [1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16];

/** Reflect-101 index (…2 1 | 0 1 2 … n−1 | n−2 …), as OpenCV's pyramid borders. */
function reflect101(i: number, n: number): number {
  if (n === 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

/** Separable 5-tap binomial blur of an HWC 3-channel image, scaled by `gain`, in a new array. */
function blur(x: Float32Array, h: number, w: number, gain: number): Float32Array {
  const tmp = new Float32Array(x.length);
  const out = new Float32Array(x.length);
  for (let y = 0; y < h; y++)
    for (let xx = 0; xx < w; xx++)
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let t = 0; t < 5; t++) s += BINOMIAL[t] * x[(y * w + reflect101(xx + t - 2, w)) * 3 + c];
        tmp[(y * w + xx) * 3 + c] = s;
      }
  for (let y = 0; y < h; y++)
    for (let xx = 0; xx < w; xx++)
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let t = 0; t < 5; t++) s += BINOMIAL[t] * tmp[(reflect101(y + t - 2, h) * w + xx) * 3 + c];
        out[(y * w + xx) * 3 + c] = s * gain;
      }
  return out;
}

/** Blur, then keep even rows and columns: `h × w` → `ceil(h/2) × ceil(w/2)`. */
function pyrDown(x: Float32Array, h: number, w: number): Float32Array {
  const b = blur(x, h, w, 1);
  const h2 = Math.ceil(h / 2);
  const w2 = Math.ceil(w / 2);
  const out = new Float32Array(h2 * w2 * 3);
  for (let y = 0; y < h2; y++)
    for (let xx = 0; xx < w2; xx++)
      for (let c = 0; c < 3; c++) out[(y * w2 + xx) * 3 + c] = b[(2 * y * w + 2 * xx) * 3 + c];
  return out;
}

/** Zero-insert `h2 × w2` up to `h × w`, then blur with gain 4 (the kernel's mass per parity). */
function pyrUp(x: Float32Array, h2: number, w2: number, h: number, w: number): Float32Array {
  const z = new Float32Array(h * w * 3);
  for (let y = 0; y < h2 && 2 * y < h; y++)
    for (let xx = 0; xx < w2 && 2 * xx < w; xx++)
      for (let c = 0; c < 3; c++) z[(2 * y * w + 2 * xx) * 3 + c] = x[(y * w2 + xx) * 3 + c];
  return blur(z, h, w, 4);
}

/** The Laplacian pyramid of one image, finest first: band-pass levels, then the coarsest Gaussian level. */
export function laplacianPyramid(x: Float32Array, height: number, width: number, minSide = DEFAULT_SWD_OPTIONS.minSide): Float32Array[] {
  const sides = pyramidSides(height, width, minSide);
  const out: Float32Array[] = [];
  let g = x;
  for (let l = 0; l < sides.length - 1; l++) {
    const [h, w] = sides[l];
    const [h2, w2] = sides[l + 1];
    const down = pyrDown(g, h, w);
    const up = pyrUp(down, h2, w2, h, w);
    const lap = new Float32Array(g.length);
    for (let i = 0; i < lap.length; i++) lap[i] = g[i] - up[i];
    out.push(lap);
    g = down;
  }
  out.push(g.slice());
  return out;
}

/** Raw descriptors of every level, `[level][descriptor · dim]`, positions from a fresh seeded stream. */
function descriptors(images: readonly Float32Array[], height: number, width: number, o: SwdOptions): Float32Array[] {
  if (images.length === 0) throw new Error('swd: the image set is empty');
  for (let i = 0; i < images.length; i++)
    if (images[i].length !== height * width * 3)
      throw new Error(`swd: image ${i} has ${images[i].length} values, expected ${height * width * 3} for ${height}×${width}×3`);
  const sides = pyramidSides(height, width, o.minSide);
  const pyramids = images.map((im) => laplacianPyramid(im, height, width, o.minSide));
  const p = o.patchSize;
  const r = (p - 1) / 2;
  const dim = p * p * 3;
  const rng = new Rng(o.seed);
  return sides.map(([h, w], l) => {
    const d = new Float32Array(o.descriptorsPerLevel * dim);
    for (let j = 0; j < o.descriptorsPerLevel; j++) {
      const img = pyramids[j % images.length][l];
      const cy = r + rng.int(h - 2 * r);
      const cx = r + rng.int(w - 2 * r);
      let q = j * dim;
      for (let dy = -r; dy <= r; dy++) {
        const row = ((cy + dy) * w + cx - r) * 3;
        for (let i = 0; i < p * 3; i++) d[q++] = img[row + i];
      }
    }
    return d;
  });
}

/** Per-channel mean and std (biased) of one level's descriptors. */
function channelStats(d: Float32Array): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(3);
  const std = new Float64Array(3);
  const n = d.length / 3;
  for (let i = 0; i < d.length; i++) mean[i % 3] += d[i];
  for (let c = 0; c < 3; c++) mean[c] /= n;
  for (let i = 0; i < d.length; i++) {
    const v = d[i] - mean[i % 3];
    std[i % 3] += v * v;
  }
  // A floor so a flat reference channel does not divide by zero (1e-3 ≈ an eighth of a grey level).
  for (let c = 0; c < 3; c++) std[c] = Math.max(Math.sqrt(std[c] / n), 1e-3);
  return { mean, std };
}

/** Normalises with the given statistics and projects on every direction; each direction's values sorted. */
function sortedProjections(d: Float32Array, mean: Float64Array, std: Float64Array, dirs: Float32Array, nDirs: number): Float32Array[] {
  const dim = dirs.length / nDirs;
  const n = d.length / dim;
  const normed = new Float32Array(d.length);
  for (let i = 0; i < d.length; i++) normed[i] = (d[i] - mean[i % 3]) / std[i % 3];
  const out: Float32Array[] = Array.from({ length: nDirs }, () => new Float32Array(n));
  // Two descriptors × four directions per pass: eight accumulators, each load used twice.
  const k4 = nDirs - (nDirs % 4);
  for (let j = 0; j < n; j += 2) {
    const two = j + 1 < n;
    const na = j * dim;
    const nb = two ? na + dim : na;
    for (let k = 0; k < nDirs; k += 4) {
      if (k >= k4) {
        for (let kk = k; kk < nDirs; kk++) {
          const db = kk * dim;
          let s = 0, u = 0;
          for (let t = 0; t < dim; t++) {
            s += normed[na + t] * dirs[db + t];
            u += normed[nb + t] * dirs[db + t];
          }
          out[kk][j] = s;
          if (two) out[kk][j + 1] = u;
        }
        break;
      }
      const d0 = k * dim;
      const d1 = d0 + dim;
      const d2 = d1 + dim;
      const d3 = d2 + dim;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, u0 = 0, u1 = 0, u2 = 0, u3 = 0;
      for (let t = 0; t < dim; t++) {
        const a = normed[na + t];
        const b = normed[nb + t];
        const w0 = dirs[d0 + t];
        const w1 = dirs[d1 + t];
        const w2 = dirs[d2 + t];
        const w3 = dirs[d3 + t];
        s0 += a * w0;
        s1 += a * w1;
        s2 += a * w2;
        s3 += a * w3;
        u0 += b * w0;
        u1 += b * w1;
        u2 += b * w2;
        u3 += b * w3;
      }
      out[k][j] = s0;
      out[k + 1][j] = s1;
      out[k + 2][j] = s2;
      out[k + 3][j] = s3;
      if (two) {
        out[k][j + 1] = u0;
        out[k + 1][j + 1] = u1;
        out[k + 2][j + 1] = u2;
        out[k + 3][j + 1] = u3;
      }
    }
  }
  for (const proj of out) proj.sort();
  return out;
}

/** Seeded unit directions (Gaussian by Box–Muller, normalised), from a stream separate from the positions'. */
function unitDirections(nDirs: number, dim: number, seed: number): Float32Array {
  const rng = new Rng((seed ^ 0x5eed_d1e5) >>> 0);
  const dirs = new Float32Array(nDirs * dim);
  for (let k = 0; k < nDirs; k++) {
    let norm = 0;
    for (let t = 0; t < dim; t++) {
      const u = 1 - rng.random(); // (0, 1]
      const g = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.random());
      dirs[k * dim + t] = g;
      norm += g * g;
    }
    norm = Math.sqrt(norm);
    for (let t = 0; t < dim; t++) dirs[k * dim + t] /= norm;
  }
  return dirs;
}

/** Prepares the real images' side of the SWD: pyramid, descriptors, statistics and sorted projections. */
export function swdReference(images: readonly Float32Array[], height: number, width: number, opts?: Partial<SwdOptions>): SwdReference {
  const o = resolveOptions(opts);
  if (Math.min(height, width) < o.minSide)
    throw new Error(`swd: images of ${height}×${width} are smaller than the ${o.minSide}-pixel coarsest level`);
  const dim = o.patchSize * o.patchSize * 3;
  const dirs = unitDirections(o.directions, dim, o.seed);
  const levels = descriptors(images, height, width, o).map((d) => {
    const { mean, std } = channelStats(d);
    return { mean, std, sorted: sortedProjections(d, mean, std, dirs, o.directions) };
  });
  return { height, width, options: Object.freeze(o), levels, dirs };
}

/**
 * The SWD of `images` (same size as the reference's) from the reference. Zero for the reference's
 * own images (the same seeded positions and directions); NaN if any value is not finite.
 */
export function swdTo(ref: SwdReference, images: readonly Float32Array[]): SwdResult {
  const o = ref.options;
  const perLevel = descriptors(images, ref.height, ref.width, o).map((d, l) => {
    const { mean, std, sorted } = ref.levels[l];
    const mine = sortedProjections(d, mean, std, ref.dirs, o.directions);
    let s = 0;
    for (let k = 0; k < o.directions; k++) {
      const a = mine[k];
      const b = sorted[k];
      for (let j = 0; j < a.length; j++) s += Math.abs(a[j] - b[j]);
    }
    return s / (o.directions * o.descriptorsPerLevel);
  });
  return { distance: perLevel.reduce((a, b) => a + b, 0) / perLevel.length, perLevel };
}

/** Convenience: the SWD of `images` from `reference` (both sets `height × width`). */
export function realismDistance(
  images: readonly Float32Array[],
  reference: readonly Float32Array[],
  height: number,
  width: number,
  opts?: Partial<SwdOptions>,
): number {
  return swdTo(swdReference(reference, height, width, opts), images).distance;
}

// ---------------------------------------------------------------------------------------------
// Collapse statistics

export interface SpreadStats {
  /** Per channel (R, G, B): std over every pixel of every image. A constant output has 0. */
  channelStd: [number, number, number];
  /** Mean of `channelStd`. */
  std: number;
  /**
   * Mean over pixels and channels of the std across images at that pixel: how much the output
   * depends on the input. A generator that ignores its input (the same picture for every image,
   * however textured) has 0.
   */
  betweenImageStd: number;
  /** Every value of every image is finite. */
  finite: boolean;
}

/** Spread statistics of a set of images of equal length (HWC, 3 channels). Non-finite values give `finite: false` and NaN spreads. */
export function spreadStats(images: readonly Float32Array[]): SpreadStats {
  if (images.length === 0) throw new Error('spreadStats: the image set is empty');
  const n = images[0].length;
  if (n === 0 || n % 3 !== 0) throw new Error(`spreadStats: images must hold 3-channel pixels, got ${n} values`);
  for (let i = 1; i < images.length; i++)
    if (images[i].length !== n) throw new Error(`spreadStats: image ${i} has ${images[i].length} values, image 0 has ${n}`);
  const finite = images.every(allFinite);
  if (!finite) return { channelStd: [NaN, NaN, NaN], std: NaN, betweenImageStd: NaN, finite };
  const m = images.length;
  const sum = new Float64Array(3);
  for (const im of images) for (let i = 0; i < n; i++) sum[i % 3] += im[i];
  const count = (m * n) / 3;
  const mean = [sum[0] / count, sum[1] / count, sum[2] / count];
  const sq = new Float64Array(3);
  for (const im of images)
    for (let i = 0; i < n; i++) {
      const d = im[i] - mean[i % 3];
      sq[i % 3] += d * d;
    }
  const channelStd = [0, 1, 2].map((c) => Math.sqrt(sq[c] / count)) as [number, number, number];
  let between = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < m; k++) s += images[k][i];
    const mu = s / m;
    let v = 0;
    for (let k = 0; k < m; k++) {
      const d = images[k][i] - mu;
      v += d * d;
    }
    between += Math.sqrt(v / m);
  }
  return { channelStd, std: (channelStd[0] + channelStd[1] + channelStd[2]) / 3, betweenImageStd: between / n, finite };
}
