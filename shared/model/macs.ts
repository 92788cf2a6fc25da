/**
 * Multiply-accumulates of one forward pass, counted the way the papers and profilers count them
 * (thop, GAN Compression's tables): a conv is k·k·cin·cout per output pixel, a depthwise conv
 * k·k·c, a transposed conv k·k·cin·cout per input pixel. Norms, activations, pads and the skip
 * adds are not counted. Stripes runs the transposed convs as a 2×2 conv into 4·cout channels,
 * which does 16/9 of the counted work; the count is the architecture's, not the kernel's.
 */
import type { GeneratorConfig } from './config.ts';

/** MACs of the ResNet generator (the teacher) on one h×w image (h, w multiples of 4). */
export function generatorMacs(cfg: GeneratorConfig, h: number, w: number): number {
  return shellMacs(cfg.ngf, h, w) + cfg.nBlocks * 2 * (9 * (4 * cfg.ngf) ** 2) * (h / 4) * (w / 4);
}

/** MACs of the mobile student on one h×w image: the same shell, separable blocks. */
export function mobileGeneratorMacs(cfg: { ngf: number; nBlocks: number }, h: number, w: number): number {
  const dim = 4 * cfg.ngf;
  return shellMacs(cfg.ngf, h, w) + cfg.nBlocks * 2 * (9 * dim + dim * dim) * (h / 4) * (w / 4);
}

/** Stem, two downsampling convs, two upsampling transposed convs and the head. */
function shellMacs(ngf: number, h: number, w: number): number {
  const full = h * w;
  const half = full / 4;
  const quarter = full / 16;
  const stem = 49 * 3 * ngf * full;
  const down = 9 * ngf * 2 * ngf * half + 9 * 2 * ngf * 4 * ngf * quarter;
  const up = 9 * 4 * ngf * 2 * ngf * quarter + 9 * 2 * ngf * ngf * half;
  const head = 49 * ngf * 3 * full;
  return stem + down + up + head;
}
