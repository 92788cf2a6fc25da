/**
 * Pixels ↔ generator input/output, exactly as `stripes translate` does it
 * (cli/commands/translate-worker.ts): x/127.5 − 1 in float32, sides padded up to a multiple of 4
 * by reflection at the bottom and right (the generator halves the image twice), the output
 * cropped back to the input's size and mapped to 0..255 by the same rounding rule.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Pixels } from './messages.ts';

/** How far each side must grow to be a multiple of 4. */
export function padTo4(width: number, height: number): { padW: number; padH: number } {
  return { padW: (4 - (width % 4)) % 4, padH: (4 - (height % 4)) % 4 };
}

/** RGBA pixels → NHWC [1, h', w', 3] in [-1, 1], reflection-padded at the bottom and right. */
export function toInput(img: Pixels): tf.Tensor4D {
  const { width, height, data } = img;
  const rgb = new Float32Array(width * height * 3);
  for (let i = 0, j = 0; i < width * height; i++, j += 3) {
    rgb[j] = data[4 * i];
    rgb[j + 1] = data[4 * i + 1];
    rgb[j + 2] = data[4 * i + 2];
  }
  const x = tf.sub(tf.div(tf.tensor4d(rgb, [1, height, width, 3]), 127.5), 1) as tf.Tensor4D;
  const { padW, padH } = padTo4(width, height);
  if (padW === 0 && padH === 0) return x;
  return tf.mirrorPad(x, [[0, 0], [0, padH], [0, padW], [0, 0]], 'reflect');
}

/** Generator output [1, h', w', 3] → the top-left `width`×`height` crop, still in [-1, 1]. */
export function cropOutput(y: tf.Tensor4D, width: number, height: number): tf.Tensor4D {
  if (y.shape[1] === height && y.shape[2] === width) return y;
  return tf.slice(y, [0, 0, 0, 0], [1, height, width, 3]);
}

/** [-1, 1] → 0..255 as (y + 1)·127.5 in float32, rounded half to even (torch.round's rule, as the CLI), clamped. */
export function toByte(y: number): number {
  const v = Math.fround(Math.fround(y + 1) * 127.5);
  let r = Math.round(v);
  if (r - v === 0.5 && r % 2 !== 0) r -= 1;
  return r < 0 ? 0 : r > 255 ? 255 : r;
}

/** Floats in [-1, 1] (HWC, RGB) → opaque RGBA bytes. */
export function toPixels(values: Float32Array, width: number, height: number): Pixels {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0, j = 0; i < width * height; i++, j += 3) {
    data[4 * i] = toByte(values[j]);
    data[4 * i + 1] = toByte(values[j + 1]);
    data[4 * i + 2] = toByte(values[j + 2]);
    data[4 * i + 3] = 255;
  }
  return { width, height, data };
}
