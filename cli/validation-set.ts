/**
 * Building a pair's validation set from a folder of ordinary images, for `stripes validation` and
 * the demo seed: each image centre-cropped and area-resized to `side × side`
 * (shared/gate/validation-set.ts), then encoded in the set's binary format.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { encodeValidationSet, prepareValidationImage, VALIDATION_MAX_IMAGES, VALIDATION_MIN_IMAGES, type RawImage } from '../shared/gate/validation-set.ts';
import { CliError } from './errors.ts';
import { decodeImage } from './image-io.ts';
import { listImages } from './train/data.ts';

/** The gate's default side: the demo and `small` pairs train on 64×64 crops. */
export const DEFAULT_VALIDATION_SIDE = 64;

export function validationSetFromFolder(dir: string, flag: string, side = DEFAULT_VALIDATION_SIDE): { bytes: Uint8Array; count: number } {
  let files: string[];
  try {
    files = listImages(dir, flag);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  if (files.length < VALIDATION_MIN_IMAGES)
    throw new CliError(`${flag} ${dir}: ${files.length} image${files.length === 1 ? '' : 's'}; a validation set needs at least ${VALIDATION_MIN_IMAGES}`);
  if (files.length > VALIDATION_MAX_IMAGES)
    throw new CliError(`${flag} ${dir}: ${files.length} images; a validation set holds at most ${VALIDATION_MAX_IMAGES} (each round measures every one)`);
  const images: RawImage[] = files.map((f) => {
    let img;
    try {
      img = decodeImage(new Uint8Array(readFileSync(f)), basename(f));
    } catch (e) {
      throw new CliError(`${flag} ${f}: ${(e as Error).message}`);
    }
    const rgba = new Uint8Array(img.width * img.height * 4);
    for (let i = 0, j = 0; i < img.data.length; i += 3, j += 4) {
      rgba[j] = img.data[i];
      rgba[j + 1] = img.data[i + 1];
      rgba[j + 2] = img.data[i + 2];
      rgba[j + 3] = 255;
    }
    return prepareValidationImage(rgba, img.width, img.height, side);
  });
  return { bytes: encodeValidationSet(images), count: images.length };
}
