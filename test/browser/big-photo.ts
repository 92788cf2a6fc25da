/**
 * A photo-like test image of any size, made from the committed test photo (chelsea.png, 70×47):
 * upscaled bilinearly, with fine deterministic detail on top (textures, edges, noise) so that
 * every tile of a large translation sees structure, not a smooth blur.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage, type RgbImage } from '../../cli/image-io.ts';
import { mulberry32 } from '../../shared/model/init.ts';

const ROOT = join(import.meta.dirname, '../..');

export function bigPhoto(width: number, height: number, seed = 1): RgbImage {
  const src = decodeImage(readFileSync(join(ROOT, 'test/fixtures/images/chelsea.png')), 'chelsea.png');
  const rnd = mulberry32(seed);
  const data = new Uint8Array(width * height * 3);
  const sx = (src.width - 1) / (width - 1);
  const sy = (src.height - 1) / (height - 1);
  for (let y = 0; y < height; y++) {
    const fy = y * sy;
    const y0 = Math.floor(fy);
    const y1 = Math.min(src.height - 1, y0 + 1);
    const ty = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = x * sx;
      const x0 = Math.floor(fx);
      const x1 = Math.min(src.width - 1, x0 + 1);
      const tx = fx - x0;
      const detail = 18 * Math.sin(x / 3.1 + Math.sin(y / 17)) * Math.cos(y / 4.3) + ((x * 7 + y * 3) % 97 < 4 ? 40 : 0);
      for (let c = 0; c < 3; c++) {
        const at = (yy: number, xx: number) => src.data[(yy * src.width + xx) * 3 + c];
        const v = (1 - ty) * ((1 - tx) * at(y0, x0) + tx * at(y0, x1)) + ty * ((1 - tx) * at(y1, x0) + tx * at(y1, x1));
        data[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v + detail + (rnd() - 0.5) * 24)));
      }
    }
  }
  return { width, height, data };
}
