/**
 * A pair's validation images of one domain, as the owner's client uploads them: already decoded
 * and sized, so the Worker never decodes PNG or JPEG. Plain TypeScript, no Node or DOM APIs.
 *
 * Layout (all integers little-endian):
 *
 *   offset  size  field
 *   0       4     magic "STRV"
 *   4       2     format version (1)
 *   6       2     count    (VALIDATION_MIN_IMAGES..VALIDATION_MAX_IMAGES)
 *   8       2     height   (multiple of 4, VALIDATION_MIN_SIDE..VALIDATION_MAX_SIDE)
 *   10      2     width    (same rule)
 *   12      count·height·width·3   RGB bytes, image after image, row-major, channels last
 *
 * Nothing follows the pixels. Sides are multiples of 4 because the generator needs them so.
 */
import { toUnit } from '../train/sampling.ts';

export const VALIDATION_MAGIC = 'STRV';
export const VALIDATION_VERSION = 1;
export const VALIDATION_HEADER_BYTES = 12;
/** Fewer images make the realism distance too noisy to gate on; more cost the Worker too much time. */
export const VALIDATION_MIN_IMAGES = 8;
export const VALIDATION_MAX_IMAGES = 64;
export const VALIDATION_MIN_SIDE = 32;
export const VALIDATION_MAX_SIDE = 256;
/** Largest valid file: 64 images of 256×256 RGB plus the header (12.6 MB). */
export const VALIDATION_MAX_BYTES =
  VALIDATION_HEADER_BYTES + VALIDATION_MAX_IMAGES * VALIDATION_MAX_SIDE * VALIDATION_MAX_SIDE * 3;

export class ValidationSetError extends Error {
  override name = 'ValidationSetError';
}

/** One decoded image to put in a set: `channels` 3 (RGB) or 4 (RGBA, alpha dropped), row-major. */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3 | 4;
}

export interface ValidationSet {
  count: number;
  height: number;
  width: number;
  /** Each HWC, 3 channels, in [-1, 1] (byte v → (v/255 − 0.5)/0.5, as training normalises). */
  images: Float32Array[];
}

function checkCount(count: number): void {
  if (!Number.isInteger(count) || count < VALIDATION_MIN_IMAGES || count > VALIDATION_MAX_IMAGES)
    throw new ValidationSetError(
      `validation set: count must be ${VALIDATION_MIN_IMAGES}..${VALIDATION_MAX_IMAGES} images, got ${count}`,
    );
}

function checkSides(height: number, width: number): void {
  const ok = (s: number) => Number.isInteger(s) && s % 4 === 0 && s >= VALIDATION_MIN_SIDE && s <= VALIDATION_MAX_SIDE;
  if (!ok(height) || !ok(width))
    throw new ValidationSetError(
      `validation set: height and width must be multiples of 4 in ${VALIDATION_MIN_SIDE}..${VALIDATION_MAX_SIDE}, got ${height}×${width}`,
    );
}

/** Packs images of one size into a validation set file. Throws a ValidationSetError naming what is wrong. */
export function encodeValidationSet(images: readonly RawImage[]): Uint8Array {
  checkCount(images.length);
  const { width, height } = images[0];
  checkSides(height, width);
  const px = width * height;
  const out = new Uint8Array(VALIDATION_HEADER_BYTES + images.length * px * 3);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) out[i] = VALIDATION_MAGIC.charCodeAt(i);
  view.setUint16(4, VALIDATION_VERSION, true);
  view.setUint16(6, images.length, true);
  view.setUint16(8, height, true);
  view.setUint16(10, width, true);
  images.forEach((img, i) => {
    if (img.width !== width || img.height !== height)
      throw new ValidationSetError(`validation set: mixed sizes: image ${i} is ${img.height}×${img.width}, image 0 is ${height}×${width}`);
    if (img.channels !== 3 && img.channels !== 4)
      throw new ValidationSetError(`validation set: image ${i} has ${img.channels} channels; only RGB (3) or RGBA (4)`);
    if (img.data.length !== px * img.channels)
      throw new ValidationSetError(
        `validation set: image ${i} has ${img.data.length} bytes, expected ${px * img.channels} for ${height}×${width}×${img.channels}`,
      );
    const base = VALIDATION_HEADER_BYTES + i * px * 3;
    if (img.channels === 3) out.set(img.data, base);
    else for (let p = 0; p < px; p++) {
      out[base + p * 3] = img.data[p * 4];
      out[base + p * 3 + 1] = img.data[p * 4 + 1];
      out[base + p * 3 + 2] = img.data[p * 4 + 2];
    }
  });
  return out;
}

/** Reads only the header (cheap: lets a caller check a set before holding its pixels as floats). */
export function readValidationHeader(bytes: Uint8Array): { count: number; height: number; width: number } {
  if (bytes.length < VALIDATION_HEADER_BYTES)
    throw new ValidationSetError(`validation set: ${bytes.length} bytes is shorter than the ${VALIDATION_HEADER_BYTES}-byte header`);
  const magic = String.fromCharCode(bytes[0], bytes[1], bytes[2], bytes[3]);
  if (magic !== VALIDATION_MAGIC)
    throw new ValidationSetError(`validation set: bad magic ${JSON.stringify(magic)}, expected "${VALIDATION_MAGIC}" (not a Stripes validation set)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(4, true);
  if (version !== VALIDATION_VERSION)
    throw new ValidationSetError(`validation set: unknown format version ${version}; this reader knows version ${VALIDATION_VERSION}`);
  const count = view.getUint16(6, true);
  const height = view.getUint16(8, true);
  const width = view.getUint16(10, true);
  checkCount(count);
  checkSides(height, width);
  const want = VALIDATION_HEADER_BYTES + count * height * width * 3;
  if (bytes.length !== want)
    throw new ValidationSetError(
      `validation set: length mismatch: ${count} images of ${height}×${width} RGB need ${want} bytes, got ${bytes.length}`,
    );
  return { count, height, width };
}

/** Unpacks a validation set file into float images in [-1, 1]. Throws a ValidationSetError naming what is wrong. */
export function decodeValidationSet(bytes: Uint8Array): ValidationSet {
  const { count, height, width } = readValidationHeader(bytes);
  const n = height * width * 3;
  const images: Float32Array[] = [];
  for (let i = 0; i < count; i++) {
    const img = new Float32Array(n);
    const base = VALIDATION_HEADER_BYTES + i * n;
    for (let j = 0; j < n; j++) img[j] = toUnit(bytes[base + j]);
    images.push(img);
  }
  return { count, height, width, images };
}

/**
 * An ordinary decoded image (RGBA, `w × h`, as a canvas or a PNG decoder gives it) made into a
 * validation image: the largest centred square is cropped and resized to `side × side` by area
 * averaging (each output pixel is the mean of the source area it covers, fractional pixels
 * weighted by coverage; no ringing, unlike the bicubic training resize in shared/train/resize.ts,
 * and exact for integer factors), rounded to bytes. Returns RGB, ready for `encodeValidationSet`.
 */
export function prepareValidationImage(rgba: Uint8Array, w: number, h: number, side: number): RawImage {
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1)
    throw new ValidationSetError(`validation image: size must be positive integers, got ${w}×${h}`);
  if (rgba.length !== w * h * 4)
    throw new ValidationSetError(`validation image: expected ${w * h * 4} RGBA bytes for ${w}×${h}, got ${rgba.length}`);
  checkSides(side, side);
  const s = Math.min(w, h);
  const x0 = Math.floor((w - s) / 2);
  const y0 = Math.floor((h - s) / 2);
  const xs = areaWeights(s, side);
  // Horizontal pass over the crop's rows into float RGB (s rows × side), then vertical.
  const tmp = new Float64Array(s * side * 3);
  for (let y = 0; y < s; y++) {
    const row = ((y0 + y) * w + x0) * 4;
    for (let ox = 0; ox < side; ox++) {
      let r = 0, g = 0, b = 0;
      for (let t = xs.start[ox]; t < xs.start[ox + 1]; t++) {
        const p = row + xs.index[t] * 4;
        const k = xs.weight[t];
        r += rgba[p] * k;
        g += rgba[p + 1] * k;
        b += rgba[p + 2] * k;
      }
      const o = (y * side + ox) * 3;
      tmp[o] = r;
      tmp[o + 1] = g;
      tmp[o + 2] = b;
    }
  }
  const out = new Uint8Array(side * side * 3);
  for (let oy = 0; oy < side; oy++) {
    for (let i = 0; i < side * 3; i++) {
      let v = 0;
      for (let t = xs.start[oy]; t < xs.start[oy + 1]; t++) v += tmp[xs.index[t] * side * 3 + i] * xs.weight[t];
      out[oy * side * 3 + i] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  return { data: out, width: side, height: side, channels: 3 };
}

/**
 * Area-averaging weights from `n` source pixels to `m`: output pixel o covers source interval
 * [o·n/m, (o+1)·n/m); each source pixel is weighted by its overlap, normalised to sum to 1.
 * CSR-style: taps of output o are start[o]..start[o+1].
 */
function areaWeights(n: number, m: number): { start: Int32Array; index: Int32Array; weight: Float64Array } {
  const scale = n / m;
  const start = new Int32Array(m + 1);
  const index: number[] = [];
  const weight: number[] = [];
  for (let o = 0; o < m; o++) {
    start[o] = index.length;
    const a = o * scale;
    const b = (o + 1) * scale;
    for (let i = Math.floor(a); i < Math.min(n, Math.ceil(b)); i++) {
      const cover = Math.min(b, i + 1) - Math.max(a, i);
      if (cover > 1e-12) {
        index.push(i);
        weight.push(cover / scale);
      }
    }
  }
  start[m] = index.length;
  return { start, index: Int32Array.from(index), weight: Float64Array.from(weight) };
}
