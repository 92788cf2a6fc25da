/**
 * A pair's held-out validation images, as the round's quality gate reads them: per domain, one
 * file in the `STRV` format, PUT by the pair's owner to `/api/pairs/{slug}/validation/{A|B}` as
 * application/octet-stream.
 *
 * Format (little-endian):
 *   bytes 0..3   "STRV"
 *   uint16       format version, 1
 *   uint16       image count
 *   uint16       height
 *   uint16       width
 *   then count × height × width × 3 bytes of RGB, row-major, image after image.
 *
 * Each image is centre-cropped to a square and resized (Pillow-exact bicubic, as training data
 * is) to 64×64 by default. `prepareValidationImage` and `encodeValidationSet` have the names and
 * shapes of the shared gate module's, so either can stand in for the other.
 */
import { resizeBicubicRGB } from '../../../shared/train/resize.ts';
import { putValidationSet } from './api.ts';
import { decodeImage } from './image.ts';

export const VALIDATION_MAGIC = 'STRV';
export const VALIDATION_FORMAT_VERSION = 1;
export const VALIDATION_SIZE = 64;
/** The least a domain's validation set may hold. */
export const MIN_VALIDATION_IMAGES = 8;
const HEADER_BYTES = 12;

/** RGBA (4 channels) or RGB (3) pixels → size×size RGB: the centred square, resized. */
export function prepareValidationImage(
  img: { width: number; height: number; data: Uint8Array | Uint8ClampedArray },
  size = VALIDATION_SIZE,
): Uint8Array {
  const { width, height, data } = img;
  const channels = data.length / (width * height);
  if (channels !== 3 && channels !== 4) throw new Error(`validation image: expected RGB or RGBA pixels, got ${data.length} bytes for ${width}×${height}`);
  const side = Math.min(width, height);
  const x0 = Math.floor((width - side) / 2);
  const y0 = Math.floor((height - side) / 2);
  const square = new Uint8Array(side * side * 3);
  for (let y = 0; y < side; y++)
    for (let x = 0; x < side; x++) {
      const s = ((y + y0) * width + (x + x0)) * channels;
      const d = (y * side + x) * 3;
      square[d] = data[s];
      square[d + 1] = data[s + 1];
      square[d + 2] = data[s + 2];
    }
  return side === size ? square : resizeBicubicRGB(square, side, side, size, size);
}

/** Images of height×width RGB → one `STRV` file. */
export function encodeValidationSet(images: Uint8Array[], height = VALIDATION_SIZE, width = VALIDATION_SIZE): Uint8Array {
  if (images.length === 0 || images.length > 0xffff) throw new Error(`a validation set holds 1..65535 images, got ${images.length}`);
  if (height < 1 || width < 1 || height > 0xffff || width > 0xffff) throw new Error(`validation images must be 1..65535 pixels a side, got ${width}×${height}`);
  const each = height * width * 3;
  const out = new Uint8Array(HEADER_BYTES + images.length * each);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) out[i] = VALIDATION_MAGIC.charCodeAt(i);
  view.setUint16(4, VALIDATION_FORMAT_VERSION, true);
  view.setUint16(6, images.length, true);
  view.setUint16(8, height, true);
  view.setUint16(10, width, true);
  images.forEach((img, i) => {
    if (img.length !== each) throw new Error(`validation image ${i + 1} has ${img.length} bytes, expected ${each} (${width}×${height} RGB)`);
    out.set(img, HEADER_BYTES + i * each);
  });
  return out;
}

/** Reads a `STRV` file back (for checks and tests). */
export function decodeValidationSet(bytes: Uint8Array): { count: number; height: number; width: number; images: Uint8Array[] } {
  const magic = String.fromCharCode(...bytes.subarray(0, 4));
  if (bytes.length < HEADER_BYTES || magic !== VALIDATION_MAGIC) throw new Error('not a validation set (no STRV header)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(4, true);
  if (version !== VALIDATION_FORMAT_VERSION) throw new Error(`validation set format version ${version} is not 1`);
  const [count, height, width] = [view.getUint16(6, true), view.getUint16(8, true), view.getUint16(10, true)];
  const each = height * width * 3;
  if (bytes.length !== HEADER_BYTES + count * each) throw new Error(`validation set: ${bytes.length} bytes, the header promises ${HEADER_BYTES + count * each}`);
  return { count, height, width, images: Array.from({ length: count }, (_, i) => bytes.slice(HEADER_BYTES + i * each, HEADER_BYTES + (i + 1) * each)) };
}

/** Decodes picked files into one domain's validation set; throws naming the files that are not images, or too few. */
export async function validationSetFromFiles(files: File[], size = VALIDATION_SIZE): Promise<Uint8Array> {
  if (files.length < MIN_VALIDATION_IMAGES) throw new Error(`Choose at least ${MIN_VALIDATION_IMAGES} validation images per domain (${files.length} chosen).`);
  const images: Uint8Array[] = [];
  const bad: string[] = [];
  for (const f of files) {
    try {
      images.push(prepareValidationImage((await decodeImage(f)).pixels, size));
    } catch {
      bad.push(f.name);
    }
  }
  if (bad.length) throw new Error(`These files could not be read as images: ${bad.join(', ')}.`);
  return encodeValidationSet(images, size, size);
}

/** Encodes and uploads one domain's held-out images (owner only). */
export async function uploadValidationSet(slug: string, domain: 'A' | 'B', files: File[], token: string): Promise<number> {
  const bytes = await validationSetFromFiles(files);
  await putValidationSet(slug, domain, bytes, token);
  return files.length;
}

const HELD_OUT_KEY = (slug: string) => `stripes.heldOut.${slug}`;

/** Remembers which files (by name and size) are this pair's validation images, so Contribute leaves them out. */
export function rememberHeldOut(slug: string, files: File[]): void {
  const kept = new Set(heldOut(slug));
  for (const f of files) kept.add(`${f.name}:${f.size}`);
  localStorage.setItem(HELD_OUT_KEY(slug), JSON.stringify([...kept]));
}

/** Fingerprints (name:size) of the files held out for validation from this browser. */
export function heldOut(slug: string): string[] {
  try {
    const v = JSON.parse(localStorage.getItem(HELD_OUT_KEY(slug)) ?? '[]');
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}
