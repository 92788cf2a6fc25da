/** Decoding the user's image into pixels and drawing results, on the page's side of the worker. */
import type { Pixels } from './messages.ts';

/** Largest side accepted: a 4096² translation already needs gigabytes on the full preset. */
export const MAX_SIDE = 4096;
/** The generator downsamples twice and reflects 3 pixels at the border: 8 is the least it takes. */
export const MIN_SIDE = 8;

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

/** Decodes a picked, dropped or pasted image file to RGBA pixels, within the sizes a translation takes. */
export async function decodeImage(blob: Blob): Promise<Pixels> {
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
  return onWhite(bitmapPixels(bitmap));
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
