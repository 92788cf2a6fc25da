/**
 * Multiply-accumulates of the ResNet generator's forward pass, from its layer shapes, so GFLOP/s
 * follows the config and the image size. Transposed convs are counted on their input grid (each
 * input pixel meets the full k×k kernel once), the convention of the 49.6 GMAC figure for the
 * `full` preset at 256×256. Norms, activations and padding are left out (a few percent).
 */
import type { GeneratorConfig } from '../../shared/model/config.ts';

export function generatorMacs(cfg: GeneratorConfig, h: number, w: number): number {
  const g = cfg.ngf;
  const px = h * w;
  const conv = (k: number, cin: number, cout: number, pixels: number) => k * k * cin * cout * pixels;
  let macs = conv(7, 3, g, px); // stem
  macs += conv(3, g, 2 * g, px / 4) + conv(3, 2 * g, 4 * g, px / 16); // stride-2 downs, on their output grid
  macs += cfg.nBlocks * 2 * conv(3, 4 * g, 4 * g, px / 16);
  macs += conv(3, 4 * g, 2 * g, px / 16) + conv(3, 2 * g, g, px / 4); // transposed, on their input grid
  macs += conv(7, g, 3, px); // head
  return macs;
}
