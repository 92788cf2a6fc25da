/**
 * A pair's held-out validation images, as the round's quality gate reads them: per domain, one
 * file in the STRV format of shared/gate/validation-set.ts (the CLI's `stripes validation` builds
 * the same bytes from the same images), PUT by the pair's owner to
 * `/api/pairs/{slug}/validation/{A|B}` as application/octet-stream.
 */
import { encodeValidationSet, prepareValidationImage, VALIDATION_MIN_IMAGES } from '../../../shared/gate/validation-set.ts';
import { putValidationSet } from './api.ts';
import { decodeImage } from './image.ts';

/** The side the gate measures at: the demo and `small` pairs train on 64×64 crops. */
export const VALIDATION_SIZE = 64;
/** The least a domain's validation set may hold. */
export const MIN_VALIDATION_IMAGES = VALIDATION_MIN_IMAGES;

/** Decodes picked files into one domain's validation set; throws naming the files that are not images, or too few. */
export async function validationSetFromFiles(files: File[], size = VALIDATION_SIZE): Promise<Uint8Array> {
  if (files.length < MIN_VALIDATION_IMAGES) throw new Error(`Choose at least ${MIN_VALIDATION_IMAGES} validation images per domain (${files.length} chosen).`);
  const images: ReturnType<typeof prepareValidationImage>[] = [];
  const bad: string[] = [];
  for (const f of files) {
    try {
      const { pixels } = await decodeImage(f);
      images.push(prepareValidationImage(new Uint8Array(pixels.data.buffer, pixels.data.byteOffset, pixels.data.byteLength), pixels.width, pixels.height, size));
    } catch {
      bad.push(f.name);
    }
  }
  if (bad.length) throw new Error(`These files could not be read as images: ${bad.join(', ')}.`);
  return encodeValidationSet(images);
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
