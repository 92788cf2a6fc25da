/**
 * The per-step part of the reference's data pipeline, shared by `stripes train` (cli/train/data.ts)
 * and the browser trainer (web/src/lib/train-data.ts) so both draw the same batches from the same
 * seed. Free of Node and DOM APIs; decoding and the load×load resize happen before, per platform.
 *
 * Crop and flip follow junyanz `data/base_dataset.py` `get_transform` (`resize_and_crop`): a random
 * crop×crop window of the load×load image, a random horizontal flip (unless disabled), then
 * ToTensor + Normalize(0.5, 0.5) to [-1, 1].
 *
 * Sampling follows `data/unaligned_dataset.py` under the reference's shuffling DataLoader: an
 * epoch is max(|A|, |B|) items in a fresh random order; item i takes A[perm[i] mod |A|] (so A is
 * visited in a shuffled order, every image once per epoch when A is the larger set) and a
 * uniformly random B, drawn independently, which keeps the pairs unaligned.
 */
import type { Rng } from './rng.ts';

export class DataError extends Error {
  override name = 'DataError';
}

/** ToTensor then Normalize(0.5, 0.5) in float32, step by step as torchvision rounds it. */
const TO_UNIT = Float32Array.from({ length: 256 }, (_, v) => {
  const f = Math.fround(v / 255);
  return Math.fround(Math.fround(f - 0.5) / 0.5);
});

/** Byte value → [-1, 1], as the reference's ToTensor + Normalize produce it. */
export function toUnit(v: number): number {
  return TO_UNIT[v];
}

/**
 * The load size for a crop size, at the reference's ratio (resize to 286, crop 256): contributors
 * of a community round, which fixes only the crop, preprocess like the round's base was trained.
 */
export function referenceLoadSize(cropSize: number): number {
  return Math.round((cropSize * 286) / 256);
}

export interface CropOptions {
  loadSize: number;
  cropSize: number;
  flip: boolean;
}

/**
 * Random crop and flip of a load×load image into `out` (crop×crop×3 floats in [-1, 1], NHWC),
 * drawing, in order, the crop's top, its left, and whether to flip.
 */
export function cropFlipInto(img: Uint8Array, o: CropOptions, rng: Rng, out: Float32Array, offset = 0): void {
  const { loadSize: L, cropSize: C } = o;
  const top = rng.int(L - C + 1);
  const left = rng.int(L - C + 1);
  const flip = o.flip && rng.random() < 0.5;
  for (let y = 0; y < C; y++) {
    const srcRow = ((top + y) * L + left) * 3;
    const dstRow = offset + y * C * 3;
    for (let x = 0; x < C; x++) {
      const s = srcRow + (flip ? C - 1 - x : x) * 3;
      const d = dstRow + x * 3;
      out[d] = TO_UNIT[img[s]];
      out[d + 1] = TO_UNIT[img[s + 1]];
      out[d + 2] = TO_UNIT[img[s + 2]];
    }
  }
}

export interface SamplerState {
  perm: number[];
  pos: number;
}

/** Unaligned sampling as the reference's UnalignedDataset under a shuffling DataLoader. */
export class UnalignedSampler {
  private perm: number[] = [];
  private pos = 0;

  constructor(
    readonly sizeA: number,
    readonly sizeB: number,
    private readonly rng: Rng,
  ) {}

  /** Indices of the next (A, B) pair. */
  next(): { a: number; b: number } {
    if (this.pos >= this.perm.length) {
      this.perm = this.rng.permutation(Math.max(this.sizeA, this.sizeB));
      this.pos = 0;
    }
    const a = this.perm[this.pos++] % this.sizeA;
    const b = this.rng.int(this.sizeB);
    return { a, b };
  }

  state(): SamplerState {
    return { perm: [...this.perm], pos: this.pos };
  }

  restore(s: SamplerState): void {
    const n = Math.max(this.sizeA, this.sizeB);
    const ok =
      Array.isArray(s?.perm) &&
      (s.perm.length === 0 || s.perm.length === n) &&
      s.perm.every((i) => Number.isInteger(i) && i >= 0 && i < n) &&
      Number.isInteger(s.pos) &&
      s.pos >= 0 &&
      s.pos <= s.perm.length;
    if (!ok) throw new DataError(`sampler state does not fit ${this.sizeA} A and ${this.sizeB} B images (the folders changed since the checkpoint?)`);
    this.perm = [...s.perm];
    this.pos = s.pos;
  }
}

/** A domain's images, each load×load RGB bytes. */
export interface ImageSet {
  images: Uint8Array[];
}

export interface Batch {
  /** [n, crop, crop, 3] floats in [-1, 1]. */
  a: Float32Array;
  b: Float32Array;
  shape: [number, number, number, number];
}

/** Draws the next batch: per item the pair's indices, then A's crop and flip, then B's. */
export function nextBatch(A: ImageSet, B: ImageSet, sampler: UnalignedSampler, rng: Rng, o: CropOptions, batchSize: number): Batch {
  const per = o.cropSize * o.cropSize * 3;
  const a = new Float32Array(batchSize * per);
  const b = new Float32Array(batchSize * per);
  for (let i = 0; i < batchSize; i++) {
    const pick = sampler.next();
    cropFlipInto(A.images[pick.a], o, rng, a, i * per);
    cropFlipInto(B.images[pick.b], o, rng, b, i * per);
  }
  return { a, b, shape: [batchSize, o.cropSize, o.cropSize, 3] };
}
