/**
 * Gallery samples within the server's limits (PNG, JPEG or WebP, at most 256 KiB): a bigger
 * photo is scaled down and re-encoded here, in the browser, instead of being refused.
 */
import { MAX_SAMPLE_BYTES, SAMPLE_TYPES } from '../../../shared/api/index.ts';
import { decodeImage } from './image.ts';

/** The largest side a resized sample keeps: cards show them at a few hundred pixels. */
const SAMPLE_SIDE = 640;

export async function fitSample(file: Blob): Promise<Blob> {
  if (file.size <= MAX_SAMPLE_BYTES && (SAMPLE_TYPES as readonly string[]).includes(file.type)) return file;
  const px = (await decodeImage(file)).pixels;
  for (let side = SAMPLE_SIDE; side >= 64; side = Math.round(side * 0.75)) {
    const k = Math.min(1, side / Math.max(px.width, px.height));
    const w = Math.max(1, Math.round(px.width * k));
    const h = Math.max(1, Math.round(px.height * k));
    const src = new OffscreenCanvas(px.width, px.height);
    src.getContext('2d')!.putImageData(new ImageData(px.data as Uint8ClampedArray<ArrayBuffer>, px.width, px.height), 0, 0);
    const out = new OffscreenCanvas(w, h);
    const ctx = out.getContext('2d')!;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(src, 0, 0, w, h);
    for (const quality of [0.88, 0.75]) {
      const blob = await out.convertToBlob({ type: 'image/jpeg', quality });
      if (blob.size <= MAX_SAMPLE_BYTES) return blob;
    }
  }
  throw new Error('the sample could not be made small enough');
}
