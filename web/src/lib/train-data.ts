/**
 * The contributor's images in the browser, prepared as the reference prepares them and as
 * `stripes train` does (cli/train/data.ts): each image decoded once and resized to load×load
 * with the Pillow-exact bicubic, then per step a random crop×crop window and a random flip,
 * mapped to [-1, 1]. A is visited in a shuffled order, B drawn at random, so pairs stay unaligned.
 * Decoding is the browser's; crop, flip and sampling are shared/train/sampling.ts, as in the CLI.
 * Runs in the training worker; the pixels never leave it.
 */
import { resizeBicubicRGB } from '../../../shared/train/resize.ts';
import type { Rng } from '../../../shared/train/rng.ts';
import { nextBatch, UnalignedSampler, type Batch } from '../../../shared/train/sampling.ts';
import { bitmapPixels, readBitmap } from './image.ts';

/** Decodes an image file to RGB bytes at load×load; throws a one-line reason when it cannot. */
export async function loadImage(blob: Blob, loadSize: number): Promise<Uint8Array> {
  const { width, height, data: rgba } = bitmapPixels(await readBitmap(blob));
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < width * height; i++, j += 3) {
    rgb[j] = rgba[4 * i];
    rgb[j + 1] = rgba[4 * i + 1];
    rgb[j + 2] = rgba[4 * i + 2];
  }
  return resizeBicubicRGB(rgb, width, height, loadSize, loadSize);
}

/** The next batches, drawn as `stripes train` draws them (always with the random flip). */
export class Batches {
  readonly #sampler: UnalignedSampler;

  constructor(
    readonly A: Uint8Array[],
    readonly B: Uint8Array[],
    readonly loadSize: number,
    private readonly rng: Rng,
  ) {
    this.#sampler = new UnalignedSampler(A.length, B.length, rng);
  }

  /** The next batch as NHWC float data for A and B. */
  next(batchSize: number, cropSize: number): Batch {
    return nextBatch({ images: this.A }, { images: this.B }, this.#sampler, this.rng, { loadSize: this.loadSize, cropSize, flip: true }, batchSize);
  }
}
