/**
 * Combining contributors' deltas of one network into one aggregated delta, streamed slice by
 * slice so memory does not grow with the model.
 *
 * A contribution is the delta `local − base` of a network (shared/rounds/delta.ts). Three modes:
 *
 * - `mean` (default, trusted rounds): each delta is first scaled by `min(1, C / ‖δ_i‖)` — norm
 *   clipping against a bound C the round derives (validate.ts, `clipBound`) — then averaged with
 *   weight `w_i` (samples processed): `Σ w_i s_i δ_i / Σ w_i`. This is FedAvg on clipped updates.
 * - `trimmed-mean` (untrusted rounds, Flower's FedTrimmedAvg / Yin et al. 2018): per coordinate,
 *   drop the `k = floor(β·n)` smallest and `k` largest (clipped) values and average the rest,
 *   unweighted, so a liar about its sample count gains nothing.
 * - `centred-clip` (untrusted rounds, Karimireddy et al. 2021, one iteration):
 *   `v = v0 + (1/n) Σ clip_τ(δ_i − v0)`, where `v0` is a centre the caller supplies (the
 *   previous round's aggregate, or zeros) and `τ` is the median of `‖δ_i − v0‖` unless given.
 *   The norm is over the whole network, so this takes two streaming passes: distances, then
 *   the combination. One iteration is what the paper analyses with momentum as the centre;
 *   more would need the intermediate centre stored somewhere, i.e. another model-sized buffer.
 *
 * Memory. The caller hands in a `SliceReader`; the aggregator asks for `[start, start+count)`
 * of one contributor at a time and holds it only while combining it. Peak bytes:
 * - mean and centred-clip: the float64 accumulator plus one contributor's slice plus the
 *   centre's slice, whatever the number of contributors;
 * - trimmed-mean: it needs every contributor's value of a coordinate at once, so it holds
 *   `n × chunk` values; `chunkElements` shrinks the chunk as `n` grows so that `n × chunk × 4`
 *   stays within the byte budget (at the price of more, smaller reads).
 * `MemoryMeter` counts the bytes the aggregator holds so a test can assert that bound.
 */

export type AggregateMode = 'mean' | 'trimmed-mean' | 'centred-clip';

/** What the aggregator needs to know of a contribution before reading its values. */
export interface ContributionInfo {
  /** Samples (images) the contributor trained on this round; the weight in `mean` mode. */
  samples: number;
  /** ‖δ‖₂ of this network's delta, as the server measured it at upload. */
  norm: number;
}

/** Returns contributor `i`'s delta values `[start, start + count)` as float32. */
export type SliceReader = (i: number, start: number, count: number) => Float32Array | Promise<Float32Array>;

export interface AggregateOptions {
  mode: AggregateMode;
  /** Norm-clipping bound C for `mean` and `trimmed-mean`; Infinity clips nothing. */
  clip: number;
  /** Fraction trimmed at each end in `trimmed-mean` (0 ≤ β < 0.5). */
  trimFraction?: number;
  /** Centre `v0` for `centred-clip`; absent means zeros. */
  readCentre?: (start: number, count: number) => Float32Array | Promise<Float32Array>;
  /** Clipping radius τ for `centred-clip`; absent means the median of ‖δ_i − v0‖. */
  tau?: number;
  /** Elements per slice; see `chunkElements`. */
  chunk: number;
  meter?: MemoryMeter;
}

/** Counts the bytes the aggregator holds at once, so tests can assert that peak memory is bounded. */
export class MemoryMeter {
  live = 0;
  peak = 0;
  hold(bytes: number): void {
    this.live += bytes;
    if (this.live > this.peak) this.peak = this.live;
  }
  release(bytes: number): void {
    this.live -= bytes;
  }
}

/**
 * Elements per slice: at most `maxChunk` (a shard's worth), and for `trimmed-mean` small enough
 * that all `n` contributors' float32 slices fit in `budgetBytes`.
 */
export function chunkElements(mode: AggregateMode, n: number, maxChunk: number, budgetBytes: number): number {
  if (mode !== 'trimmed-mean') return maxChunk;
  return Math.max(1, Math.min(maxChunk, Math.floor(budgetBytes / (4 * Math.max(1, n)))));
}

/** Per-contributor scale `min(1, C / ‖δ_i‖)`; a zero delta keeps scale 1. */
export function clipScales(norms: readonly number[], clip: number): number[] {
  return norms.map((n) => (n > clip ? clip / n : 1));
}

/** How many values each end of a sorted coordinate drops. */
export function trimCount(n: number, beta: number): number {
  if (!(beta >= 0 && beta < 0.5)) throw new RangeError(`trimFraction must be in [0, 0.5), got ${beta}`);
  return Math.floor(beta * n);
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('median of no values');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Streams the aggregated delta of one network of `length` values: calls `emit(start, values)`
 * for consecutive slices. `values` is valid only during the call (the buffer is reused).
 */
export async function aggregateStream(
  length: number,
  contributors: readonly ContributionInfo[],
  read: SliceReader,
  opts: AggregateOptions,
  emit: (start: number, values: Float64Array) => void | Promise<void>,
): Promise<void> {
  const n = contributors.length;
  if (n === 0) throw new RangeError('aggregate: no contributions');
  const meter = opts.meter ?? new MemoryMeter();
  const chunk = Math.max(1, Math.min(opts.chunk, length));
  const out = new Float64Array(chunk);
  meter.hold(out.byteLength);

  const readHeld = async (i: number, start: number, count: number): Promise<Float32Array> => {
    const v = await read(i, start, count);
    if (v.length !== count) throw new RangeError(`aggregate: contributor ${i} returned ${v.length} values for [${start}, ${start + count})`);
    meter.hold(v.byteLength);
    return v;
  };

  if (opts.mode === 'mean') {
    const scales = clipScales(contributors.map((c) => c.norm), opts.clip);
    const totalW = contributors.reduce((s, c) => s + c.samples, 0);
    if (!(totalW > 0)) throw new RangeError('aggregate: total sample weight must be positive');
    const coef = contributors.map((c, i) => (c.samples * scales[i]) / totalW);
    for (let start = 0; start < length; start += chunk) {
      const count = Math.min(chunk, length - start);
      const acc = out.subarray(0, count);
      acc.fill(0);
      for (let i = 0; i < n; i++) {
        const v = await readHeld(i, start, count);
        const a = coef[i];
        for (let j = 0; j < count; j++) acc[j] += a * v[j];
        meter.release(v.byteLength);
      }
      await emit(start, acc);
    }
  } else if (opts.mode === 'trimmed-mean') {
    const scales = clipScales(contributors.map((c) => c.norm), opts.clip);
    const k = trimCount(n, opts.trimFraction ?? 0.2);
    const kept = n - 2 * k;
    const column = new Float64Array(n);
    meter.hold(column.byteLength);
    for (let start = 0; start < length; start += chunk) {
      const count = Math.min(chunk, length - start);
      const slices: Float32Array[] = [];
      for (let i = 0; i < n; i++) slices.push(await readHeld(i, start, count));
      for (let j = 0; j < count; j++) {
        // Insertion sort: n is tens at most, and this avoids allocating per coordinate.
        for (let i = 0; i < n; i++) {
          const x = slices[i][j] * scales[i];
          let p = i - 1;
          while (p >= 0 && column[p] > x) {
            column[p + 1] = column[p];
            p--;
          }
          column[p + 1] = x;
        }
        let s = 0;
        for (let p = k; p < n - k; p++) s += column[p];
        out[j] = s / kept;
      }
      for (const v of slices) meter.release(v.byteLength);
      await emit(start, out.subarray(0, count));
    }
    meter.release(column.byteLength);
  } else if (opts.mode === 'centred-clip') {
    const readCentre = async (start: number, count: number): Promise<Float32Array | null> => {
      if (!opts.readCentre) return null;
      const c = await opts.readCentre(start, count);
      if (c.length !== count) throw new RangeError(`aggregate: centre returned ${c.length} values for [${start}, ${start + count})`);
      meter.hold(c.byteLength);
      return c;
    };
    let dist2: Float64Array | undefined;
    if (opts.readCentre) {
      // Pass 1: ‖δ_i − v0‖² for every contributor, one slice at a time (with a zero centre the
      // distances are the norms measured at upload).
      dist2 = new Float64Array(n);
      for (let start = 0; start < length; start += chunk) {
        const count = Math.min(chunk, length - start);
        const c = await readCentre(start, count);
        for (let i = 0; i < n; i++) {
          const v = await readHeld(i, start, count);
          let s = 0;
          for (let j = 0; j < count; j++) {
            const d = v[j] - (c ? c[j] : 0);
            s += d * d;
          }
          dist2[i] += s;
          meter.release(v.byteLength);
        }
        if (c) meter.release(c.byteLength);
      }
    }
    const dists = dist2 ? Array.from(dist2, Math.sqrt) : contributors.map((c) => c.norm);
    const tau = opts.tau ?? median(dists);
    const coef = dists.map((d) => (d > tau ? tau / d : 1) / n);
    // Pass 2: v0 + Σ coef_i (δ_i − v0).
    for (let start = 0; start < length; start += chunk) {
      const count = Math.min(chunk, length - start);
      const c = await readCentre(start, count);
      const acc = out.subarray(0, count);
      for (let j = 0; j < count; j++) acc[j] = c ? c[j] : 0;
      for (let i = 0; i < n; i++) {
        const v = await readHeld(i, start, count);
        const a = coef[i];
        if (c) for (let j = 0; j < count; j++) acc[j] += a * (v[j] - c[j]);
        else for (let j = 0; j < count; j++) acc[j] += a * v[j];
        meter.release(v.byteLength);
      }
      if (c) meter.release(c.byteLength);
      await emit(start, acc);
    }
  } else {
    throw new RangeError(`aggregate: unknown mode ${JSON.stringify((opts as { mode: unknown }).mode)}`);
  }
  meter.release(out.byteLength);
}

/** Convenience for small in-memory inputs (tests, the CLI simulation): the whole aggregated delta. */
export async function aggregateArrays(
  deltas: readonly Float32Array[],
  samples: readonly number[],
  opts: Omit<AggregateOptions, 'chunk' | 'readCentre'> & { chunk?: number; centre?: Float32Array },
): Promise<Float64Array> {
  const length = deltas[0]?.length ?? 0;
  for (const d of deltas) if (d.length !== length) throw new RangeError('aggregate: deltas differ in length');
  const info = deltas.map((d, i) => ({ samples: samples[i], norm: l2(d) }));
  const result = new Float64Array(length);
  const centre = opts.centre;
  await aggregateStream(
    length,
    info,
    (i, s, c) => deltas[i].subarray(s, s + c),
    { ...opts, chunk: opts.chunk ?? length, readCentre: centre ? (s, c) => centre.subarray(s, s + c) : undefined },
    (s, v) => result.set(v, s),
  );
  return result;
}

/** ‖x‖₂ accumulated in float64. */
export function l2(x: ArrayLike<number>): number {
  return Math.sqrt(sumSquares(x));
}

export function sumSquares(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return s;
}
