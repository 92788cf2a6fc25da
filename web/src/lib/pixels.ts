/**
 * Pixels ↔ generator input/output for the page's RGBA pixels: the shared conversions
 * (shared/model/pixels.ts, which `stripes translate` uses too) on 4-channel ImageData.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { floatsToBytes, toInput as sharedToInput } from '../../../shared/model/pixels.ts';
import type { Pixels } from './messages.ts';

export { cropOutput, MIN_SIDE, padTo4, toByte } from '../../../shared/model/pixels.ts';

/** RGBA pixels → NHWC [1, h', w', 3] in [-1, 1], reflection-padded at the bottom and right. */
export function toInput(img: Pixels): tf.Tensor4D {
  return sharedToInput({ ...img, channels: 4 });
}

/** Floats in [-1, 1] (HWC, RGB) → opaque RGBA bytes. */
export function toPixels(values: Float32Array, width: number, height: number): Pixels {
  return { width, height, data: floatsToBytes(values, width, height, 4) as Uint8ClampedArray };
}
