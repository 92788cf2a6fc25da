/**
 * Training data: two folders of unpaired images, loaded for shared/train/sampling.ts.
 *
 * Preprocessing follows the reference (junyanz `data/base_dataset.py` `get_transform` with
 * `resize_and_crop`): resize to load×load with Pillow's BICUBIC, a random crop×crop window, a
 * random horizontal flip (unless disabled), then ToTensor + Normalize(0.5, 0.5) to [-1, 1].
 * The resize does not depend on the randomness, so each image is decoded and resized once, at
 * start-up, and kept as load×load RGB bytes; crop, flip and sampling run per iteration in
 * shared/train/sampling.ts, which the browser trainer uses too.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { decodeImage, IMAGE_EXTENSIONS, type RgbImage } from '../image-io.ts';
import { resizeBicubicRGB } from '../../shared/train/resize.ts';
import { DataError } from '../../shared/train/sampling.ts';

export { DataError };

/** Turns a file's bytes into RGB (alpha dropped, as PIL's `convert('RGB')`); throws if it cannot. */
export type DecodeImage = (bytes: Uint8Array, path: string) => RgbImage;

/** The image files directly inside `dir`, sorted by name; throws a one-line error if there are none. */
export function listImages(dir: string, flag: string): string[] {
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new DataError(`${flag} ${dir}: no such folder`);
  }
  if (!st.isDirectory()) throw new DataError(`${flag} ${dir}: not a folder`);
  const files = readdirSync(dir)
    .filter((f) => IMAGE_EXTENSIONS.includes(extname(f).toLowerCase()))
    .sort()
    .map((f) => join(dir, f))
    .filter((p) => statSync(p).isFile());
  if (files.length === 0) throw new DataError(`${flag} ${dir}: no images (looked for ${IMAGE_EXTENSIONS.join(', ')})`);
  return files;
}

export interface Domain {
  /** The images that decoded, each resized to load×load. */
  images: Uint8Array[];
  paths: string[];
  /** Files that could not be read or decoded, with why. */
  skipped: Array<{ path: string; reason: string }>;
}

/** Decodes and resizes every image of a folder; unreadable files are skipped and reported through `warn`. */
export function loadDomain(
  dir: string,
  flag: string,
  loadSize: number,
  decode: DecodeImage = decodeImage,
  warn: (msg: string) => void = () => {},
): Domain {
  const dom: Domain = { images: [], paths: [], skipped: [] };
  for (const path of listImages(dir, flag)) {
    let img: RgbImage;
    try {
      img = decode(new Uint8Array(readFileSync(path)), path);
      if (img.data.length !== img.width * img.height * 3 || img.width < 1 || img.height < 1) throw new Error('decoder returned a malformed image');
    } catch (e) {
      let reason = ((e as Error).message || String(e)).split('\n')[0];
      if (reason.startsWith(`${path}: `)) reason = reason.slice(path.length + 2);
      dom.skipped.push({ path, reason });
      warn(`warning: skipping ${path}: ${reason}`);
      continue;
    }
    dom.images.push(resizeBicubicRGB(img.data, img.width, img.height, loadSize, loadSize));
    dom.paths.push(path);
  }
  if (dom.images.length === 0) throw new DataError(`${flag} ${dir}: none of the ${dom.skipped.length} image files could be read`);
  return dom;
}
