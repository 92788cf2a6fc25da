/** Decoding the user's image into pixels and drawing results, on the page's side of the worker. */
import { MIN_SIDE } from '../../../shared/model/pixels.ts';
import type { Pixels } from './messages.ts';

export { MIN_SIDE };
/** Largest side read at all (a browser's canvas limit is about this). */
export const MAX_SIDE = 16384;
/**
 * Largest image translated at full size, in pixels (a 6000×4000 photo); a bigger one is
 * downscaled to this. Tiling bounds the tensors, but the planes kept between passes grow with
 * the image: 3·ngf bytes a pixel (docs/translate.md).
 */
export const MAX_FULL_PIXELS = 24_000_000;

/**
 * Opens an image file as stored: no colour space conversion and no premultiplied alpha, so a
 * PNG gives the same bytes a PNG decoder in Node (the CLI) gives. Works in a worker too.
 */
export async function readBitmap(blob: Blob): Promise<ImageBitmap> {
  try {
    return await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch {
    throw new Error('that file could not be read as an image (PNG, JPEG, WebP or GIF)');
  }
}

/** The bitmap's RGBA pixels; closes the bitmap. */
export function bitmapPixels(bitmap: ImageBitmap): Pixels {
  const { width, height } = bitmap;
  const ctx = new OffscreenCanvas(width, height).getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const { data } = ctx.getImageData(0, 0, width, height);
  return { width, height, data };
}

export interface DecodedImage {
  pixels: Pixels;
  /** The file's own size, before any downscaling. */
  original: { width: number; height: number };
  /** Whether the pixels were downscaled (to `maxSide`, or to MAX_FULL_PIXELS). */
  scaled: boolean;
}

/**
 * Decodes a picked, dropped or pasted image file to RGBA pixels: at full size, or with its
 * longer side brought down to `maxSide` (never up). An image over MAX_FULL_PIXELS is always
 * downscaled to fit; one over MAX_SIDE or under MIN_SIDE a side is refused.
 */
export async function decodeImage(blob: Blob, maxSide: number | null = null): Promise<DecodedImage> {
  if (blob.type && !blob.type.startsWith('image/')) throw new Error(`that file is ${blob.type}, not an image`);
  const bitmap = await readBitmap(blob);
  const { width, height } = bitmap;
  const tooSmall = width < MIN_SIDE || height < MIN_SIDE;
  if (tooSmall || width > MAX_SIDE || height > MAX_SIDE) {
    bitmap.close();
    throw new Error(
      tooSmall
        ? `the image is ${width}×${height}; it needs at least ${MIN_SIDE} pixels a side`
        : `the image is ${width}×${height}; the largest side allowed is ${MAX_SIDE}`,
    );
  }
  let scale = maxSide ? Math.min(1, maxSide / Math.max(width, height)) : 1;
  scale = Math.min(scale, Math.sqrt(MAX_FULL_PIXELS / (width * height)));
  const w = Math.max(MIN_SIDE, Math.round(width * scale));
  const h = Math.max(MIN_SIDE, Math.round(height * scale));
  if (w === width && h === height) return { pixels: onWhite(bitmapPixels(bitmap)), original: { width, height }, scaled: false };
  try {
    const small = await createImageBitmap(bitmap, { resizeWidth: w, resizeHeight: h, resizeQuality: 'high', premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
    return { pixels: onWhite(bitmapPixels(small)), original: { width, height }, scaled: true };
  } finally {
    bitmap.close();
  }
}

/**
 * Composites see-through pixels on white, as an image viewer shows them: a transparent PNG's
 * hidden colour under alpha 0 (often black) would otherwise be translated as if it were seen.
 * Training data keeps the reference's convert('RGB') (alpha dropped), as the CLI does.
 */
export function onWhite(img: Pixels): Pixels {
  const d = img.data;
  for (let i = 3; i < d.length; i += 4) {
    const a = d[i];
    if (a === 255) continue;
    const k = a / 255;
    d[i - 3] = Math.round(d[i - 3] * k + 255 * (1 - k));
    d[i - 2] = Math.round(d[i - 2] * k + 255 * (1 - k));
    d[i - 1] = Math.round(d[i - 1] * k + 255 * (1 - k));
    d[i] = 255;
  }
  return img;
}

/** Draws pixels onto a canvas, resizing it to the image. */
export function drawPixels(canvas: HTMLCanvasElement, img: Pixels): void {
  canvas.width = img.width;
  canvas.height = img.height;
  const ctx = canvas.getContext('2d')!;
  ctx.putImageData(new ImageData(img.data as Uint8ClampedArray<ArrayBuffer>, img.width, img.height), 0, 0);
}

export function canvasToPng(canvas: HTMLCanvasElement): Promise<Blob> {
  return new Promise((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('the result could not be encoded as PNG'))), 'image/png'),
  );
}
