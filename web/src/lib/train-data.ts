/**
 * The contributor's images in the browser, prepared as the reference prepares them and as
 * `stripes train` does (cli/train/data.ts): each image decoded once and resized to load×load
 * with the Pillow-exact bicubic, then per step a random crop×crop window and a random flip,
 * mapped to [-1, 1]. A is visited in a shuffled order, B drawn at random, so pairs stay unaligned.
 * Runs in the training worker; the pixels never leave it.
 */
import { resizeBicubicRGB } from '../../../cli/train/resize.ts';
import type { Rng } from '../../../cli/train/rng.ts';

/** Decodes an image file to RGB bytes at load×load; throws a one-line reason when it cannot. */
export async function loadImage(blob: Blob, loadSize: number): Promise<Uint8Array> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch {
    throw new Error('not a readable image (PNG, JPEG, WebP or GIF)');
  }
  const { width, height } = bitmap;
  const ctx = new OffscreenCanvas(width, height).getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < width * height; i++, j += 3) {
    rgb[j] = rgba[4 * i];
    rgb[j + 1] = rgba[4 * i + 1];
    rgb[j + 2] = rgba[4 * i + 2];
  }
  return resizeBicubicRGB(rgb, width, height, loadSize, loadSize);
}

/** ToTensor + Normalize(0.5, 0.5) in float32, as cli/train/data.ts rounds it. */
const TO_UNIT = Float32Array.from({ length: 256 }, (_, v) => Math.fround(Math.fround(Math.fround(v / 255) - 0.5) / 0.5));

function cropFlipInto(img: Uint8Array, loadSize: number, cropSize: number, rng: Rng, out: Float32Array, offset: number): void {
  const top = rng.int(loadSize - cropSize + 1);
  const left = rng.int(loadSize - cropSize + 1);
  const flip = rng.random() < 0.5;
  for (let y = 0; y < cropSize; y++) {
    const src = ((top + y) * loadSize + left) * 3;
    const dst = offset + y * cropSize * 3;
    for (let x = 0; x < cropSize; x++) {
      const s = src + (flip ? cropSize - 1 - x : x) * 3;
      const d = dst + x * 3;
      out[d] = TO_UNIT[img[s]];
      out[d + 1] = TO_UNIT[img[s + 1]];
      out[d + 2] = TO_UNIT[img[s + 2]];
    }
  }
}

export class Batches {
  #perm: number[] = [];
  #pos = 0;

  constructor(
    readonly A: Uint8Array[],
    readonly B: Uint8Array[],
    readonly loadSize: number,
    private readonly rng: Rng,
  ) {}

  /** The next batch as NHWC float data for A and B. */
  next(batchSize: number, cropSize: number): { a: Float32Array; b: Float32Array; shape: [number, number, number, number] } {
    const per = cropSize * cropSize * 3;
    const a = new Float32Array(batchSize * per);
    const b = new Float32Array(batchSize * per);
    for (let i = 0; i < batchSize; i++) {
      if (this.#pos >= this.#perm.length) {
        this.#perm = this.rng.permutation(Math.max(this.A.length, this.B.length));
        this.#pos = 0;
      }
      const ia = this.#perm[this.#pos++] % this.A.length;
      const ib = this.rng.int(this.B.length);
      cropFlipInto(this.A[ia], this.loadSize, cropSize, this.rng, a, i * per);
      cropFlipInto(this.B[ib], this.loadSize, cropSize, this.rng, b, i * per);
    }
    return { a, b, shape: [batchSize, cropSize, cropSize, 3] };
  }
}
