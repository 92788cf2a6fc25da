/**
 * The history of generated images each discriminator is shown (Shrivastava et al. 2017, as the
 * CycleGAN paper uses it; the reference's util/image_pool.py).
 *
 * Why it exists: a discriminator trained only on the generator's latest output chases it, and
 * the two can oscillate. Showing it a mix of the newest fakes and fakes from earlier
 * generators keeps it honest about everything the generator has tried, which stabilises
 * training.
 *
 * Behaviour, per image of a batch: while fewer than `size` images are stored, store it and
 * return it; once full, with probability ½ return a uniformly chosen stored image and store the
 * new one in its place, otherwise return the new image. `size` 0 disables the pool.
 *
 * Randomness comes from the caller's `random()` (uniform in [0, 1)), so a seeded generator makes
 * runs repeatable. The pool owns the tensors it stores; `dispose()` frees them.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor4D } from '@tensorflow/tfjs-core';

export const DEFAULT_POOL_SIZE = 50;

export class ImagePool {
  private readonly images: Tensor4D[] = [];

  constructor(
    readonly size: number,
    private readonly random: () => number,
  ) {
    if (!Number.isInteger(size) || size < 0) throw new Error(`image pool: size must be a non-negative integer, got ${size}`);
  }

  /** Images stored so far (at most `size`). */
  get count(): number {
    return this.images.length;
  }

  /**
   * A batch the same shape as `images`, drawn as described above. The input is not consumed:
   * the caller still owns (and disposes) it; the result is a new tensor the caller owns.
   */
  query(images: Tensor4D): Tensor4D {
    if (this.size === 0) return tf.clone(images);
    const out: Tensor4D[] = [];
    const n = images.shape[0];
    try {
      for (let i = 0; i < n; i++) {
        const image = tf.keep(tf.slice(images, [i, 0, 0, 0], [1, -1, -1, -1]));
        if (this.images.length < this.size) {
          this.images.push(image);
          out.push(tf.clone(image));
        } else if (this.random() > 0.5) {
          // The reference's random.randint(0, size − 1), inclusive at both ends.
          const k = Math.min(this.size - 1, Math.floor(this.random() * this.size));
          out.push(this.images[k]);
          this.images[k] = image;
        } else {
          out.push(image);
        }
      }
      return n === 1 ? out[0] : tf.tidy(() => tf.concat(out, 0));
    } finally {
      if (n !== 1) for (const t of out) if (!this.images.includes(t)) t.dispose();
    }
  }

  /** The stored images as plain arrays, for checkpoints that resume exactly. */
  async snapshot(): Promise<{ shape: number[]; data: Float32Array }[]> {
    return Promise.all(this.images.map(async (t) => ({ shape: t.shape.slice(), data: (await t.data()) as Float32Array })));
  }

  /** Replaces the stored images with a snapshot's. */
  restore(images: { shape: number[]; data: Float32Array }[]): void {
    if (images.length > this.size) throw new Error(`image pool: snapshot holds ${images.length} images, more than the pool size ${this.size}`);
    for (const im of images) {
      if (im.shape.length !== 4 || im.shape[0] !== 1 || im.data.length !== im.shape.reduce((a, b) => a * b, 1))
        throw new Error(`image pool: a snapshot image has shape [${im.shape}] and ${im.data.length} values; expected [1, h, w, c]`);
    }
    this.dispose();
    for (const im of images) this.images.push(tf.tensor4d(im.data, im.shape as [number, number, number, number]));
  }

  dispose(): void {
    for (const t of this.images) t.dispose();
    this.images.length = 0;
  }
}
