/**
 * PNG and JPEG files to RGB pixels and back, for the CLI (pngjs, jpeg-js: pure JS, so the CLI
 * needs no native image library). Like the reference's `Image.open(path).convert('RGB')`, alpha
 * is dropped and EXIF orientation is not applied.
 */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { rgbaToRgb as rgbaToRgbBytes } from '../shared/model/pixels.ts';

/** 8-bit RGB, row-major, 3 bytes a pixel. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export class ImageError extends Error {
  override name = 'ImageError';
}

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'];

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function rgbaToRgb(rgba: Uint8Array, width: number, height: number): RgbImage {
  return { width, height, data: rgbaToRgbBytes(rgba, width, height) };
}

/** Decodes by content (not by file name); throws an ImageError saying what is wrong. */
export function decodeImage(bytes: Uint8Array, what = 'image'): RgbImage {
  const isPng = PNG_MAGIC.every((b, i) => bytes[i] === b);
  const isJpeg = bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  if (!isPng && !isJpeg) throw new ImageError(`${what}: not a PNG or JPEG file`);
  let img: RgbImage;
  try {
    if (isPng) {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      img = rgbaToRgb(png.data, png.width, png.height);
    } else {
      // Not tolerant: a truncated JPEG is an error, not a picture with a grey bottom half.
      const j = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, tolerantDecoding: false, maxMemoryUsageInMB: 1024 });
      img = rgbaToRgb(j.data, j.width, j.height);
    }
  } catch (e) {
    throw new ImageError(`${what}: cannot decode ${isPng ? 'PNG' : 'JPEG'} (${String((e as Error)?.message ?? e).split('\n')[0]})`);
  }
  if (img.width === 0 || img.height === 0) throw new ImageError(`${what}: image has no pixels`);
  return img;
}

export function encodePng(img: RgbImage): Uint8Array {
  const png = new PNG({ width: img.width, height: img.height });
  const { data } = img;
  for (let i = 0, j = 0; i < data.length; i += 3, j += 4) {
    png.data[j] = data[i];
    png.data[j + 1] = data[i + 1];
    png.data[j + 2] = data[i + 2];
    png.data[j + 3] = 255;
  }
  return new Uint8Array(PNG.sync.write(png, { colorType: 2 }));
}
