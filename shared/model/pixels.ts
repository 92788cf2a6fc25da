/**
 * Pixels ↔ generator input and output, written once for the web app's translator worker and
 * `stripes translate`: x/127.5 − 1 in float32, sides reflection-padded at the bottom and right
 * up to a multiple of 4 (the generator halves the image twice), the output cropped back to the
 * input's size and mapped to 0..255 by torch.round's rule.
 *
 * Images are 8-bit, row-major, interleaved: RGB (3 bytes a pixel, the CLI's decoder) or RGBA
 * (4, a canvas's ImageData); alpha is ignored on input and written opaque on output.
 */
import * as tf from '@tensorflow/tfjs-core';

/** The generator downsamples twice and reflects 3 pixels at the border: 8 is the least side it takes. */
export const MIN_SIDE = 8;

export type Channels = 3 | 4;

/** 8-bit pixels with 3 (RGB) or 4 (RGBA) interleaved channels. */
export interface ByteImage {
  width: number;
  height: number;
  channels: Channels;
  data: Uint8Array | Uint8ClampedArray;
}

/** How far each side must grow to be a multiple of 4. */
export function padTo4(width: number, height: number): { padW: number; padH: number } {
  return { padW: (4 - (width % 4)) % 4, padH: (4 - (height % 4)) % 4 };
}

/** Throws a message naming the size when an image is too small to translate. */
export function checkMinSide(width: number, height: number, what = 'the image'): void {
  if (width < MIN_SIDE || height < MIN_SIDE)
    throw new Error(`${what} is ${width}×${height}; translating needs sides of at least ${MIN_SIDE} pixels`);
}

/** RGBA bytes → RGB bytes. */
export function rgbaToRgb(rgba: ArrayLike<number>, width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; j < data.length; i += 4, j += 3) {
    data[j] = rgba[i];
    data[j + 1] = rgba[i + 1];
    data[j + 2] = rgba[i + 2];
  }
  return data;
}

/** The RGB channels of an image as float32 bytes values (0..255), row-major HWC. */
function rgbFloats(img: ByteImage): Float32Array {
  const { width, height, channels, data } = img;
  const rgb = new Float32Array(width * height * 3);
  for (let i = 0, j = 0; j < rgb.length; i += channels, j += 3) {
    rgb[j] = data[i];
    rgb[j + 1] = data[i + 1];
    rgb[j + 2] = data[i + 2];
  }
  return rgb;
}

/** An image → NHWC [1, h', w', 3] in [-1, 1], reflection-padded at the bottom and right to a multiple of 4. */
export function toInput(img: ByteImage): tf.Tensor4D {
  const { width, height } = img;
  return tf.tidy(() => {
    const x = tf.sub(tf.div(tf.tensor4d(rgbFloats(img), [1, height, width, 3]), 127.5), 1) as tf.Tensor4D;
    const { padW, padH } = padTo4(width, height);
    if (padW === 0 && padH === 0) return x;
    return tf.mirrorPad(x, [[0, 0], [0, padH], [0, padW], [0, 0]], 'reflect');
  });
}

/** One byte value → the generator's input value, exactly as `toInput` computes it in float32. */
export function byteToInput(v: number): number {
  return Math.fround(Math.fround(v / 127.5) - 1);
}

/** Generator output [1, h', w', 3] → the top-left `width`×`height` crop, still in [-1, 1]. */
export function cropOutput(y: tf.Tensor4D, width: number, height: number): tf.Tensor4D {
  if (y.shape[1] === height && y.shape[2] === width) return y;
  return tf.slice(y, [0, 0, 0, 0], [1, height, width, 3]);
}

/** [-1, 1] → 0..255 as (y + 1)·127.5 in float32, rounded half to even (torch.round's rule), clamped. */
export function toByte(y: number): number {
  const v = Math.fround(Math.fround(y + 1) * 127.5);
  let r = Math.round(v);
  if (r - v === 0.5 && r % 2 !== 0) r -= 1;
  return r < 0 ? 0 : r > 255 ? 255 : r;
}

/**
 * Floats in [-1, 1] (HWC RGB, `width`×`height`) → bytes with `channels` per pixel (alpha 255),
 * written into `out` at pixel offset (`x0`, `y0`) of an image `outWidth` wide when given.
 */
export function floatsToBytes(
  values: Float32Array,
  width: number,
  height: number,
  channels: Channels,
  out?: { data: Uint8Array | Uint8ClampedArray; width: number; x0: number; y0: number },
): Uint8Array | Uint8ClampedArray {
  const target = out ?? { data: channels === 4 ? new Uint8ClampedArray(width * height * 4) : new Uint8Array(width * height * 3), width, x0: 0, y0: 0 };
  const { data } = target;
  for (let y = 0; y < height; y++) {
    let j = y * width * 3;
    let i = ((target.y0 + y) * target.width + target.x0) * channels;
    for (let x = 0; x < width; x++, j += 3, i += channels) {
      data[i] = toByte(values[j]);
      data[i + 1] = toByte(values[j + 1]);
      data[i + 2] = toByte(values[j + 2]);
      if (channels === 4) data[i + 3] = 255;
    }
  }
  return data;
}
