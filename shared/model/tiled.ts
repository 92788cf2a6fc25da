/**
 * The generator over tiles, with every instance norm using the whole image's statistics: the
 * result equals `generator()` on the whole image up to float error, while the tensors alive at
 * any moment are one tile's (docs/translate.md explains the algorithm and its memory). The
 * distilled student (`mobileGenerator`, ./student.ts) runs the same way: it has the same stem,
 * downsampling, upsampling and head, and only its residual blocks differ, so each network's block
 * is described as a list of conv layers (`blockLayers`) that the runner walks, one pass per layer.
 *
 * Instance norm makes each layer depend on the whole image, so the network runs one pass per
 * instance norm. A pass computes the raw (pre-norm) output of one conv over the image tile by
 * tile, each tile from its input region plus a halo wide enough for the layers recomputed in that
 * pass, normalising earlier layers with statistics already gathered, and adds the tile's per-channel
 * sums to float64 accumulators. What a later pass needs is kept in float32 planes in ordinary
 * memory (not the tensor heap) at the downsampled resolutions only; full-resolution activations
 * are recomputed from the input (stem) or from the half-resolution plane (second up layer, head).
 *
 * Tiles never overlap in what they produce: each owns a rectangle of the output grid and reads a
 * halo, so no blending is needed. At the image border the halo is replaced by the same reflect or
 * zero padding the whole-image network applies.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor1D, Tensor4D } from '@tensorflow/tfjs-core';
import type { GeneratorConfig } from './config.ts';
import { param, type Params } from './generator.ts';
import { SEPARABLE, STUDENT_ARCH, type StudentConfig } from './student-config.ts';
import { conv2dPadded, convTransposeAsConvWeight, INSTANCE_NORM_EPS } from './ops.ts';
import { generatorLayout } from './param-specs.ts';
import { byteToInput, checkMinSide, floatsToBytes, padTo4, type ByteImage } from './pixels.ts';

/** What the tiled runner can run: the pair's ResNet generator, or a distilled student (`arch` set). */
export type TiledConfig = GeneratorConfig | StudentConfig;

const isStudent = (cfg: TiledConfig): cfg is StudentConfig => 'arch' in cfg && cfg.arch === STUDENT_ARCH;

/**
 * One conv layer inside a residual block (all at quarter resolution, 4·ngf channels in and out),
 * and how the previous layer's raw output becomes its input: instance norm with the whole image's
 * statistics, then ReLU or not. The first layer reads the block's input as it is.
 */
interface BlockLayer {
  /** Parameter name prefix (`….weight`, `….bias`). */
  name: string;
  /** Kernel side: 3 (reflect-padded by 1) or 1. */
  k: 1 | 3;
  depthwise: boolean;
  relu: boolean;
}

/**
 * The conv layers of residual block `index`, in order. The block's output is its input plus the
 * last layer's output instance-normed. ResNet block: conv3×3, IN, ReLU, conv3×3, IN. Mobile block
 * (student.ts): two separable convs, each a depthwise 3×3, IN, pointwise 1×1; IN and ReLU after
 * the first, IN after the second.
 */
function blockLayers(cfg: TiledConfig, index: number): BlockLayer[] {
  const pre = `model.${index}.conv_block`;
  if (!isStudent(cfg))
    return [
      { name: `${pre}.1`, k: 3, depthwise: false, relu: false },
      { name: `${pre}.5`, k: 3, depthwise: false, relu: true },
    ];
  const [s1, s2] = SEPARABLE.map((s) => `${pre}.${s}.conv`);
  return [
    { name: `${s1}.0`, k: 3, depthwise: true, relu: false },
    { name: `${s1}.2`, k: 1, depthwise: false, relu: false },
    { name: `${s2}.0`, k: 3, depthwise: true, relu: true },
    { name: `${s2}.2`, k: 1, depthwise: false, relu: false },
  ];
}

/** Working-set budget for one tile's tensors when none is given: 96 MiB. */
export const DEFAULT_TILE_BUDGET_BYTES = 96 * 2 ** 20;
/** Smallest tile side (pixels, full resolution). */
export const MIN_TILE = 16;
/** The widest halo a pass reads around its tile, in full-resolution pixels (pass "down 2": 4·1 + 2·1 + 3, rounded up). */
const MAX_HALO_L0 = 12;
/** Float32 tensors of a tile's size alive at once in the worst pass (input, output, a normalised copy, a padded copy). */
const LIVE_TENSORS = 4;

export interface TilePlan {
  /** Sides after padding to a multiple of 4 (what the network sees). */
  paddedWidth: number;
  paddedHeight: number;
  /** Nominal tile side in full-resolution pixels (a multiple of 4); tiles split the image evenly. */
  tile: number;
  /** Tile boundaries in full-resolution pixels, multiples of 4, from 0 to the padded side. */
  rows: number[];
  cols: number[];
  /** Number of tiles per pass and passes. */
  tilesPerPass: number;
  passes: number;
  /** Bytes of the float32 planes kept between passes at their peak: 3·H'·W'·ngf. */
  planeBytes: number;
  /** Estimated bytes of one tile's tensors: 4 · 4 · ngf · (tile + 2·12)². */
  tileBytes: number;
}

/** The largest tile (a multiple of 4, at least MIN_TILE) whose tensors fit `budgetBytes`. */
export function tileForBudget(cfg: TiledConfig, budgetBytes = DEFAULT_TILE_BUDGET_BYTES): number {
  const side = Math.sqrt(budgetBytes / (LIVE_TENSORS * 4 * Math.max(cfg.ngf, 3))) - 2 * MAX_HALO_L0;
  return Math.max(MIN_TILE, Math.floor(side / 4) * 4);
}

/** `n` split into about-equal parts of at most `tile`, each a multiple of 4 (n is one). */
function splitEvenly(n: number, tile: number): number[] {
  const parts = Math.max(1, Math.ceil(n / tile));
  const cuts = [0];
  for (let i = 1; i < parts; i++) cuts.push(Math.round((i * n) / parts / 4) * 4);
  cuts.push(n);
  return cuts.filter((c, i) => i === 0 || c > cuts[i - 1]);
}

/**
 * How an image of `width`×`height` would be tiled with tiles of `tile` pixels (default: from
 * the budget). One tile means the whole image fits: callers then run the plain generator.
 */
export function planTiles(width: number, height: number, cfg: TiledConfig, tile?: number, budgetBytes?: number): TilePlan {
  checkMinSide(width, height);
  const t = tile ?? tileForBudget(cfg, budgetBytes);
  if (!Number.isInteger(t) || t < MIN_TILE) throw new Error(`tile size must be an integer of at least ${MIN_TILE}, got ${t}`);
  const T = Math.floor(t / 4) * 4;
  const { padW, padH } = padTo4(width, height);
  const H = height + padH;
  const W = width + padW;
  const rows = splitEvenly(H, T);
  const cols = splitEvenly(W, T);
  return {
    paddedWidth: W,
    paddedHeight: H,
    tile: T,
    rows,
    cols,
    tilesPerPass: (rows.length - 1) * (cols.length - 1),
    passes: 3 + blockLayers(cfg, 0).length * cfg.nBlocks + 3,
    planeBytes: 3 * H * W * cfg.ngf,
    tileBytes: LIVE_TENSORS * 4 * cfg.ngf * (T + 2 * MAX_HALO_L0) ** 2,
  };
}

export interface TileProgress {
  /** Tiles finished over all passes, and their total. */
  done: number;
  total: number;
  /** Share of the estimated work done, 0..1 (passes differ in cost per tile). */
  fraction: number;
}

export interface TiledOptions {
  /** Tile side in pixels (default: from `budgetBytes`). */
  tile?: number;
  budgetBytes?: number;
  /** Checked after every tile: an aborted signal stops the run with its reason. */
  signal?: AbortSignal;
  onProgress?: (p: TileProgress) => void;
  /** Awaited after every tile, e.g. to let a worker receive a cancel message. */
  yieldBetweenTiles?: () => Promise<void>;
}

/** Receives the output tile by tile: `values` are [-1, 1] floats (HWC RGB) for `w`×`h` pixels at (`x0`, `y0`). */
export type TileSink = (values: Float32Array, x0: number, y0: number, w: number, h: number) => void;

// ---------------------------------------------------------------------------------------------
// Regions: a tensor holding rows [r0, r0+h) and columns [c0, c0+w) of one level's whole image.

interface Level {
  h: number;
  w: number;
}

interface Region {
  t: Tensor4D;
  r0: number;
  c0: number;
}

interface Span {
  /** Output indices [o0, o1) computable from what is held. */
  o0: number;
  o1: number;
  /** Slice of the held tensor to take, relative to its start. */
  from: number;
  to: number;
  /** Padding to add before and after the slice (only where it reaches the image border). */
  before: number;
  after: number;
}

/**
 * Along one axis: which outputs of a conv (kernel k, stride s, padding p) the held rows
 * [r0, r0+n) of a side `size` determine. Rows beyond the image border are the padding, which
 * the whole-image conv has too; rows beyond the held ones elsewhere are unknown.
 */
function convSpan(r0: number, n: number, size: number, k: number, s: number, p: number): Span {
  const r1 = r0 + n;
  const lo = r0 === 0 ? -p : r0;
  const hi = r1 === size ? size + p : r1;
  const outSize = Math.floor((size + 2 * p - k) / s) + 1;
  const o0 = Math.max(0, Math.ceil((lo + p) / s));
  const o1 = Math.min(outSize, Math.floor((hi + p - k) / s) + 1);
  if (o1 <= o0) throw new Error(`tiled generator: a tile's halo is too small (rows ${r0}..${r1} of ${size})`);
  const start = o0 * s - p;
  const end = (o1 - 1) * s - p + k;
  return { o0, o1, from: Math.max(start, 0) - r0, to: Math.min(end, size) - r0, before: Math.max(0, -start), after: Math.max(0, end - size) };
}

/**
 * A conv layer (weights `[k, k, in, out]`, or `[k, k, c, 1]` when `depthwise`) on a region, with
 * reflect or zero padding at the image border.
 */
function convRegion(x: Region, lvl: Level, w: Tensor4D, b: Tensor1D, s: number, p: number, mode: 'reflect' | 'zero', depthwise = false): Region {
  const k = w.shape[0];
  const ry = convSpan(x.r0, x.t.shape[1], lvl.h, k, s, p);
  const rx = convSpan(x.c0, x.t.shape[2], lvl.w, k, s, p);
  const t = tf.tidy(() => {
    let v: Tensor4D = x.t;
    if (ry.from !== 0 || rx.from !== 0 || ry.to !== x.t.shape[1] || rx.to !== x.t.shape[2])
      v = tf.slice(v, [0, ry.from, rx.from, 0], [1, ry.to - ry.from, rx.to - rx.from, -1]);
    if (ry.before || ry.after || rx.before || rx.after) {
      const pads: Array<[number, number]> = [[0, 0], [ry.before, ry.after], [rx.before, rx.after], [0, 0]];
      v = mode === 'reflect' ? tf.mirrorPad(v, pads, 'reflect') : tf.pad(v, pads);
    }
    return depthwise ? tf.fused.depthwiseConv2d({ x: v, filter: w, bias: b, strides: s, pad: 'valid' }) : conv2dPadded(v, w, b, s, 0);
  });
  x.t.dispose();
  return { t, r0: ry.o0, c0: rx.o0 };
}

/**
 * ConvTranspose2d(k3, s2, p1, output_padding 1) on a region, as `convTranspose3x3s2` computes it
 * (a 2×2 conv over the input with a zero row and column after the image, then a pixel shuffle).
 * Input row m gives output rows 2m and 2m+1 and needs rows m and m+1 (zero past the border).
 */
function convTRegion(x: Region, lvl: Level, k2: Tensor4D, b4: Tensor1D, cout: number): Region {
  const [, h, w] = x.t.shape;
  const padB = x.r0 + h === lvl.h ? 1 : 0;
  const padR = x.c0 + w === lvl.w ? 1 : 0;
  const t = tf.tidy(() => {
    const y = tf.fused.conv2d({ x: x.t, filter: k2, bias: b4, strides: 1, pad: [[0, 0], [0, padB], [0, padR], [0, 0]] });
    const [, oh, ow] = y.shape;
    const shuffled = tf.transpose(tf.reshape(y, [oh, ow, 2, 2 * cout]), [0, 2, 1, 3]);
    return tf.reshape(shuffled, [1, 2 * oh, 2 * ow, cout]) as Tensor4D;
  });
  x.t.dispose();
  return { t, r0: 2 * x.r0, c0: 2 * x.c0 };
}

interface NormStats {
  mean: Tensor1D;
  invStd: Tensor1D;
  /** The same numbers on the host, for the pointwise steps done there. */
  meanHost: Float32Array;
  invStdHost: Float32Array;
}

/** Instance norm with whole-image statistics, then ReLU unless told not to. */
function normRegion(x: Region, s: NormStats, relu = true): Region {
  const t = tf.tidy(() => {
    const n = tf.mul(tf.sub(x.t, s.mean), s.invStd) as Tensor4D;
    return relu ? tf.relu(n) : n;
  });
  x.t.dispose();
  return { t, r0: x.r0, c0: x.c0 };
}

/** The part of a region inside absolute rows [r0, r1) and columns [c0, c1); throws if not all held. */
function cropRegion(x: Region, r0: number, r1: number, c0: number, c1: number): Tensor4D {
  const [, h, w] = x.t.shape;
  if (r0 < x.r0 || c0 < x.c0 || r1 > x.r0 + h || c1 > x.c0 + w)
    throw new Error(`tiled generator: tile ${r0}..${r1}×${c0}..${c1} not covered by ${x.r0}..${x.r0 + h}×${x.c0}..${x.c0 + w}`);
  if (r0 === x.r0 && c0 === x.c0 && r1 === x.r0 + h && c1 === x.c0 + w) return x.t;
  const t = tf.slice(x.t, [0, r0 - x.r0, c0 - x.c0, 0], [1, r1 - r0, c1 - c0, -1]);
  x.t.dispose();
  return t;
}

// ---------------------------------------------------------------------------------------------
// Host-side storage and statistics.

/** An HWC float32 image of one level, kept outside the tensor heap. */
class Plane {
  readonly data: Float32Array;
  constructor(
    readonly h: number,
    readonly w: number,
    readonly c: number,
  ) {
    this.data = new Float32Array(h * w * c);
  }
  /** Rows [r0, r1) × columns [c0, c1) as a region tensor. */
  region(r0: number, r1: number, c0: number, c1: number): Region {
    const { w, c } = this;
    const out = new Float32Array((r1 - r0) * (c1 - c0) * c);
    const rowLen = (c1 - c0) * c;
    for (let r = r0; r < r1; r++) out.set(this.data.subarray((r * w + c0) * c, (r * w + c1) * c), (r - r0) * rowLen);
    return { t: tf.tensor4d(out, [1, r1 - r0, c1 - c0, c]), r0, c0 };
  }
  write(r0: number, c0: number, h: number, w: number, values: Float32Array): void {
    const rowLen = w * this.c;
    for (let r = 0; r < h; r++) this.data.set(values.subarray(r * rowLen, (r + 1) * rowLen), ((r0 + r) * this.w + c0) * this.c);
  }
}

/**
 * Per-channel sum and sum of squares in float64, about a shift (the first tile's mean) so that
 * E[x²] − E[x]² does not cancel; gives biased variance as PyTorch's InstanceNorm2d uses.
 */
class StatsAccumulator {
  #n = 0;
  #shift: Float64Array | null = null;
  #sum: Float64Array;
  #sq: Float64Array;
  constructor(readonly c: number) {
    this.#sum = new Float64Array(c);
    this.#sq = new Float64Array(c);
  }
  add(values: Float32Array): void {
    const c = this.c;
    const n = values.length / c;
    if (!this.#shift) {
      const m = new Float64Array(c);
      for (let i = 0; i < values.length; i += c) for (let j = 0; j < c; j++) m[j] += values[i + j];
      for (let j = 0; j < c; j++) m[j] /= n;
      this.#shift = m;
    }
    const k = this.#shift;
    const sum = this.#sum;
    const sq = this.#sq;
    for (let i = 0; i < values.length; i += c)
      for (let j = 0; j < c; j++) {
        const d = values[i + j] - k[j];
        sum[j] += d;
        sq[j] += d * d;
      }
    this.#n += n;
  }
  finish(): NormStats {
    const c = this.c;
    const meanHost = new Float32Array(c);
    const invStdHost = new Float32Array(c);
    for (let j = 0; j < c; j++) {
      const d = this.#sum[j] / this.#n;
      const variance = Math.max(0, this.#sq[j] / this.#n - d * d);
      meanHost[j] = this.#shift![j] + d;
      invStdHost[j] = 1 / Math.sqrt(variance + INSTANCE_NORM_EPS);
    }
    return { mean: tf.tensor1d(meanHost), invStd: tf.tensor1d(invStdHost), meanHost, invStdHost };
  }
}

function disposeStats(s: NormStats | undefined): void {
  s?.mean.dispose();
  s?.invStd.dispose();
}

// ---------------------------------------------------------------------------------------------

interface Tile {
  /** Full-resolution bounds (multiples of 4). */
  r0: number;
  r1: number;
  c0: number;
  c1: number;
}

/**
 * Translates an 8-bit image (any size of at least 8×8) into a new one of the same size and
 * channels, tile by tile; equal to the whole-image network up to float error: `generator` for a
 * GeneratorConfig, `mobileGenerator` for a StudentConfig.
 */
export async function generatorTiled(params: Params, cfg: TiledConfig, img: ByteImage, opts: TiledOptions = {}): Promise<ByteImage> {
  const { width, height, channels } = img;
  const data = channels === 4 ? new Uint8ClampedArray(width * height * 4) : new Uint8Array(width * height * 3);
  await generatorTiledInto(params, cfg, img, (v, x0, y0, w, h) => floatsToBytes(v, w, h, channels, { data, width, x0, y0 }), opts);
  return { width, height, channels, data };
}

/** The tiled generator with the output handed to `sink` tile by tile (the generator's floats, cropped to the image). */
export async function generatorTiledInto(params: Params, cfg: TiledConfig, img: ByteImage, sink: TileSink, opts: TiledOptions = {}): Promise<void> {
  const { width, height, channels } = img;
  const plan = planTiles(width, height, cfg, opts.tile, opts.budgetBytes);
  const L = generatorLayout(cfg);
  const g = cfg.ngf;
  const H = plan.paddedHeight;
  const W = plan.paddedWidth;
  const L0: Level = { h: H, w: W };
  const L1: Level = { h: H / 2, w: W / 2 };
  const L2: Level = { h: H / 4, w: W / 4 };
  const tiles: Tile[] = [];
  for (let i = 0; i + 1 < plan.rows.length; i++)
    for (let j = 0; j + 1 < plan.cols.length; j++) tiles.push({ r0: plan.rows[i], r1: plan.rows[i + 1], c0: plan.cols[j], c1: plan.cols[j + 1] });

  const w4 = (name: string) => param<Tensor4D>(params, `${name}.weight`, 4);
  const b1 = (name: string) => param<Tensor1D>(params, `${name}.bias`, 1);
  const stemName = `model.${L.stem}`;
  const [d1Name, d2Name] = L.down.map((i) => `model.${i}`);
  const headName = `model.${L.head}`;
  // The transposed convs' 2×2 weights, converted once for the whole run.
  const up = L.up.map((i) => {
    const wT = w4(`model.${i}`);
    return { k2: convTransposeAsConvWeight(wT), b4: tf.tile(b1(`model.${i}`), [4]) as Tensor1D, cout: wT.shape[2] };
  });
  const owned: Tensor[] = up.flatMap((u) => [u.k2, u.b4]);

  const layersOf = L.blocks.map((b) => blockLayers(cfg, b));
  // Pass costs in MACs per full-resolution pixel, for the progress fraction.
  const cost = { stem: 147 * g, down: 4.5 * g * g, up: 8 * g * g, head: 147 * g };
  // A block layer at quarter resolution: k²·4g·4g MACs (k²·4g depthwise) per 16 pixels.
  const layerCost = (l: BlockLayer) => (l.k * l.k * 4 * g * (l.depthwise ? 1 : 4 * g)) / 16;
  const passCosts = [
    cost.stem,
    cost.stem + cost.down,
    cost.stem + 2 * cost.down,
    ...layersOf.flatMap((layers) => layers.map(layerCost)),
    cost.up,
    2 * cost.up,
    2 * cost.up + cost.head,
  ];
  const totalWork = passCosts.reduce((a, b) => a + b, 0) * H * W;
  const total = passCosts.length * tiles.length;
  let done = 0;
  let work = 0;

  /** The ×4-padded input image's rows [r0, r1) × columns [c0, c1) in [-1, 1]. */
  const inputRegion = (r0: number, r1: number, c0: number, c1: number): Region => {
    const out = new Float32Array((r1 - r0) * (c1 - c0) * 3);
    const reflect = (i: number, n: number) => (i < n ? i : 2 * (n - 1) - i);
    let o = 0;
    for (let r = r0; r < r1; r++) {
      const sr = reflect(r, height) * width;
      for (let c = c0; c < c1; c++) {
        const s = (sr + reflect(c, width)) * channels;
        out[o++] = byteToInput(img.data[s]);
        out[o++] = byteToInput(img.data[s + 1]);
        out[o++] = byteToInput(img.data[s + 2]);
      }
    }
    return { t: tf.tensor4d(out, [1, r1 - r0, c1 - c0, 3]), r0, c0 };
  };

  /** A tile's bounds at a level `f` times smaller, grown by `halo` and clipped to the level. */
  const around = (t: Tile, f: number, halo: number, lvl: Level) => ({
    r0: Math.max(0, t.r0 / f - halo),
    r1: Math.min(lvl.h, t.r1 / f + halo),
    c0: Math.max(0, t.c0 / f - halo),
    c1: Math.min(lvl.w, t.c1 / f + halo),
  });

  /**
   * One pass: for each tile, `compute` gives a region covering the tile at level 1/f; its
   * values there go to `stats` and, when given, into `plane`.
   */
  const pass = async (index: number, f: number, compute: (t: Tile) => Region, stats: StatsAccumulator | null, plane?: Plane) => {
    for (const tile of tiles) {
      const r0 = tile.r0 / f;
      const c0 = tile.c0 / f;
      const h = tile.r1 / f - r0;
      const w = tile.c1 / f - c0;
      const out = cropRegion(compute(tile), r0, r0 + h, c0, c0 + w);
      const values = (await out.data()) as Float32Array;
      out.dispose();
      stats?.add(values);
      plane?.write(r0, c0, h, w, values);
      done++;
      work += passCosts[index] * (tile.r1 - tile.r0) * (tile.c1 - tile.c0);
      opts.onProgress?.({ done, total, fraction: work / totalWork });
      if (opts.yieldBetweenTiles) await opts.yieldBetweenTiles();
      opts.signal?.throwIfAborted();
    }
  };

  /** The stem's raw output over a tile grown by `halo` (full resolution), from the input grown 3 more. */
  const stemFrom = (t: Tile, halo: number) => {
    const m = halo + 3;
    const x = inputRegion(Math.max(0, t.r0 - m), Math.min(H, t.r1 + m), Math.max(0, t.c0 - m), Math.min(W, t.c1 + m));
    return convRegion(x, L0, w4(stemName), b1(stemName), 1, 3, 'reflect');
  };

  const stats: NormStats[] = [];
  let pi = 0;
  try {
    opts.signal?.throwIfAborted();
    // 1. Stem statistics (full resolution, from the input).
    let acc = new StatsAccumulator(g);
    await pass(pi++, 1, (t) => stemFrom(t, 0), acc);
    const sStem = acc.finish();
    stats.push(sStem);

    // 2. First down conv's statistics (half resolution; the stem recomputed with a halo).
    acc = new StatsAccumulator(2 * g);
    await pass(pi++, 2, (t) => convRegion(normRegion(stemFrom(t, 2), sStem), L0, w4(d1Name), b1(d1Name), 2, 1, 'zero'), acc);
    const sD1 = acc.finish();
    stats.push(sD1);

    // 3–5 hold the quarter-resolution planes; they are unreachable (and collectable) after 5.
    let u1: Plane;
    let sU1: NormStats;
    {
      // 3. Second down conv (quarter resolution): statistics, and the raw output kept.
      const y = new Plane(L2.h, L2.w, 4 * g);
      acc = new StatsAccumulator(4 * g);
      await pass(
        pi++,
        4,
        (t) => {
          const d1 = convRegion(normRegion(stemFrom(t, 4), sStem), L0, w4(d1Name), b1(d1Name), 2, 1, 'zero');
          return convRegion(normRegion(d1, sD1), L1, w4(d2Name), b1(d2Name), 2, 1, 'zero');
        },
        acc,
        y,
      );
      const s = acc.finish();
      stats.push(s);
      reluNormInPlace(y.data, s);

      // 4. Residual blocks at quarter resolution: y ← y + IN(last layer), one pass per layer,
      // each layer reading the previous one's raw output (normalised) from one of two scratch planes.
      {
        const scratch = [new Plane(L2.h, L2.w, 4 * g), new Plane(L2.h, L2.w, 4 * g)];
        for (const layers of layersOf) {
          let src = y;
          let srcStats: NormStats | null = null;
          for (const [li, layer] of layers.entries()) {
            const dst = scratch[li % 2];
            const from = src;
            const norm = srcStats;
            const halo = (layer.k - 1) / 2;
            const input = (t: Tile) => {
              const a = around(t, 4, halo, L2);
              const r = from.region(a.r0, a.r1, a.c0, a.c1);
              return norm ? normRegion(r, norm, layer.relu) : r;
            };
            acc = new StatsAccumulator(4 * g);
            await pass(pi++, 4, (t) => convRegion(input(t), L2, w4(layer.name), b1(layer.name), 1, halo, 'reflect', layer.depthwise), acc, dst);
            srcStats = acc.finish();
            stats.push(srcStats);
            src = dst;
          }
          if (srcStats) addNormInPlace(y.data, src.data, srcStats);
        }
      }

      // 5. First up conv (half resolution): statistics, and the raw output kept. Allocated
      // only now, after the blocks' two scratch planes became garbage: the peak stays 3 planes.
      u1 = new Plane(L1.h, L1.w, 2 * g);
      acc = new StatsAccumulator(2 * g);
      await pass(pi++, 2, (t) => { const a = around(t, 4, 1, L2); return convTRegion(y.region(a.r0, a.r1, a.c0, a.c1), L2, up[0].k2, up[0].b4, up[0].cout); }, acc, u1);
      sU1 = acc.finish();
      stats.push(sU1);
    }

    // 6. Second up conv's statistics (full resolution, recomputed from the half-resolution plane).
    const half = u1;
    const up2From = (t: Tile, halo: number) => {
      const a = around(t, 2, halo, L1);
      return convTRegion(normRegion(half.region(a.r0, a.r1, a.c0, a.c1), sU1), L1, up[1].k2, up[1].b4, up[1].cout);
    };
    acc = new StatsAccumulator(g);
    await pass(pi++, 1, (t) => up2From(t, 1), acc);
    const sU2 = acc.finish();
    stats.push(sU2);

    // 7. Head: the second up conv again, normalised, then the 7×7 conv and tanh, written as bytes.
    for (const tile of tiles) {
      const x = convRegion(normRegion(up2From(tile, 3), sU2), L0, w4(headName), b1(headName), 1, 3, 'reflect');
      const oh = Math.min(tile.r1, height) - tile.r0;
      const ow = Math.min(tile.c1, width) - tile.c0;
      if (oh > 0 && ow > 0) {
        const yT = cropRegion(x, tile.r0, tile.r0 + oh, tile.c0, tile.c0 + ow);
        const tanh = tf.tanh(yT);
        yT.dispose();
        const values = (await tanh.data()) as Float32Array;
        tanh.dispose();
        sink(values, tile.c0, tile.r0, ow, oh);
      } else x.t.dispose();
      done++;
      work += passCosts[pi] * (tile.r1 - tile.r0) * (tile.c1 - tile.c0);
      opts.onProgress?.({ done, total, fraction: Math.min(1, work / totalWork) });
      if (opts.yieldBetweenTiles) await opts.yieldBetweenTiles();
      opts.signal?.throwIfAborted();
    }
  } finally {
    for (const st of stats) disposeStats(st);
    for (const t of owned) t.dispose();
  }
}

/** y ← relu((y − mean)·invStd), per channel, in float32 as the tensor ops compute it. */
function reluNormInPlace(y: Float32Array, s: NormStats): void {
  const c = s.meanHost.length;
  for (let i = 0; i < y.length; i += c)
    for (let j = 0; j < c; j++) {
      const v = Math.fround(Math.fround(y[i + j] - s.meanHost[j]) * s.invStdHost[j]);
      y[i + j] = v > 0 ? v : 0;
    }
}

/** y ← y + (r − mean)·invStd: the residual block's sum. */
function addNormInPlace(y: Float32Array, r: Float32Array, s: NormStats): void {
  const c = s.meanHost.length;
  for (let i = 0; i < y.length; i += c)
    for (let j = 0; j < c; j++) y[i + j] += Math.fround(Math.fround(r[i + j] - s.meanHost[j]) * s.invStdHost[j]);
}
