// The discriminators' history of fakes (the reference's util/image_pool.py).
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../cli/tf-backend.ts';
import { ImagePool } from '../../shared/train/image-pool.ts';

/** A 1×1×1×1 image holding `v`, so images are told apart by value. */
const img = (v: number) => tf.tensor4d([v], [1, 1, 1, 1]);
const val = (t: tf.Tensor) => t.dataSync()[0];

/** Replays a fixed list of uniforms. */
function script(values: number[]): () => number {
  let i = 0;
  return () => {
    if (i >= values.length) throw new Error('random stream exhausted');
    return values[i++];
  };
}

describe('ImagePool', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('returns each image while filling, then swaps with probability ½', () => {
    // After filling: 0.7 > ½ → swap with slot ⌊0.3·3⌋ = 0; 0.2 ≤ ½ → pass through; 0.9 → swap slot ⌊0.99·3⌋ = 2.
    const pool = new ImagePool(3, script([0.7, 0.3, 0.2, 0.9, 0.99]));
    const outs: number[] = [];
    for (const v of [1, 2, 3, 4, 5, 6]) {
      const t = img(v);
      const r = pool.query(t);
      outs.push(val(r));
      r.dispose();
      t.dispose();
    }
    expect(outs).toEqual([1, 2, 3, 1, 5, 3]);
    expect(pool.count).toBe(3);
    pool.dispose();
  });

  it('treats each image of a batch separately', () => {
    const pool = new ImagePool(2, script([0.1]));
    const batch = tf.tensor4d([1, 2, 3], [3, 1, 1, 1]);
    const r = pool.query(batch);
    expect(Array.from(r.dataSync())).toEqual([1, 2, 3]);
    expect(pool.count).toBe(2);
    tf.dispose([r, batch]);
    pool.dispose();
  });

  it('is repeatable for a seed and never leaks: numTensors = caller tensors + stored images', () => {
    const run = () => {
      let s = 42;
      const rng = () => ((s = (s * 16807) % 2147483647) - 1) / 2147483646;
      const pool = new ImagePool(4, rng);
      const before = tf.memory().numTensors;
      const outs: number[] = [];
      for (let v = 0; v < 40; v++) {
        const t = img(v);
        const r = pool.query(t);
        outs.push(val(r));
        tf.dispose([r, t]);
        expect(tf.memory().numTensors).toBe(before + pool.count);
      }
      pool.dispose();
      expect(tf.memory().numTensors).toBe(before);
      return outs;
    };
    const a = run();
    expect(run()).toEqual(a);
    // The draws did swap in old images, not only pass new ones through.
    expect(a.some((v, i) => v < i)).toBe(true);
  });

  it('size 0 disables it; snapshots restore the stored images exactly', async () => {
    const off = new ImagePool(0, () => 0.9);
    const t = img(7);
    const r = off.query(t);
    expect(val(r)).toBe(7);
    tf.dispose([r]);

    const pool = new ImagePool(2, script([0.9, 0.0]));
    for (const v of [1, 2]) tf.dispose(pool.query(img(v)));
    const snap = await pool.snapshot();
    const copy = new ImagePool(2, script([0.9, 0.0]));
    copy.restore(snap);
    const back = copy.query(t);
    expect(val(back)).toBe(1); // slot 0 of the restored pool
    tf.dispose([t, back]);
    expect(() => copy.restore([{ shape: [1, 1, 1, 1], data: new Float32Array(2) }])).toThrow(/snapshot image has shape/);
    expect(copy.count).toBe(2);
    expect(() => new ImagePool(-1, Math.random)).toThrow(/size must be a non-negative integer/);
    pool.dispose();
    copy.dispose();
  });
});
