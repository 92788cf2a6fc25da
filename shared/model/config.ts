/**
 * The CycleGAN model configuration, and the named presets people actually pick.
 *
 * Names follow the paper (Zhu et al. 2017) and the reference implementation
 * (junyanz/pytorch-CycleGAN-and-pix2pix, models/cycle_gan_model.py). The mapping, written once:
 *
 *   paper   reference   Stripes   what it does
 *   G       netG_A      G_AB      generator X→Y  (domain A → domain B)
 *   F       netG_B      G_BA      generator Y→X  (domain B → domain A)
 *   D_Y     netD_A      D_B       judges domain B (real B vs G(A))
 *   D_X     netD_B      D_A       judges domain A (real A vs F(B))
 *
 * Note the reference's netD_A judges domain B; Stripes names discriminators by the domain they
 * judge, so D_B is the reference's netD_A.
 */

/** ResNet generator: c7s1-ngf, d2ngf, d4ngf, N×R4ngf, u2ngf, ungf, c7s1-3. */
export interface GeneratorConfig {
  /** Filters in the first conv layer (64 in the paper). */
  ngf: number;
  /** Residual blocks at 4·ngf: 9 for 256×256 training in the paper, 6 for 128×128. */
  nBlocks: number;
}

/** 70×70 PatchGAN discriminator. */
export interface DiscriminatorConfig {
  /** Filters in the first conv layer (64 in the paper). */
  ndf: number;
  /** Number of stride-2 conv layers after the first (3 gives the 70×70 receptive field). */
  nLayers: number;
}

export interface ModelConfig {
  generator: GeneratorConfig;
  discriminator: DiscriminatorConfig;
}

/** The four networks of a pair, by their Stripes names. */
export const NETWORKS = ['G_AB', 'G_BA', 'D_A', 'D_B'] as const;
export type NetworkName = (typeof NETWORKS)[number];
export const GENERATORS = ['G_AB', 'G_BA'] as const;
export const DISCRIMINATORS = ['D_A', 'D_B'] as const;
export type GeneratorName = (typeof GENERATORS)[number];
export type DiscriminatorName = (typeof DISCRIMINATORS)[number];

export type Direction = 'AtoB' | 'BtoA';
/** Which generator translates in a direction. */
export const GENERATOR_FOR: Record<Direction, GeneratorName> = { AtoB: 'G_AB', BtoA: 'G_BA' };

export const PRESETS = {
  /** The paper's networks (resnet_9blocks, ngf 64, 70×70 PatchGAN ndf 64): what the official weights use. */
  full: { generator: { ngf: 64, nBlocks: 9 }, discriminator: { ndf: 64, nLayers: 3 } },
  /** ngf 16 with 6 blocks: ~16× fewer MACs than `full`, fast enough to train and run on a laptop or phone GPU. */
  small: { generator: { ngf: 16, nBlocks: 6 }, discriminator: { ndf: 16, nLayers: 3 } },
  /** ngf 4 with 2 blocks: a model that trains in seconds on a CPU, for tests and protocol checks only. */
  tiny: { generator: { ngf: 4, nBlocks: 2 }, discriminator: { ndf: 4, nLayers: 3 } },
} as const satisfies Record<string, ModelConfig>;

export type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

export function isPresetName(s: string): s is PresetName {
  return Object.prototype.hasOwnProperty.call(PRESETS, s);
}

/** A deep copy of a preset, so callers can tweak it without touching the table. */
export function presetConfig(name: PresetName): ModelConfig {
  const p = PRESETS[name];
  return { generator: { ...p.generator }, discriminator: { ...p.discriminator } };
}

/** Throws a message naming the field when a config is not one the networks can be built from. */
export function validateModelConfig(c: unknown): ModelConfig {
  const fail = (field: string, want: string): never => {
    throw new Error(`model config: ${field} must be ${want}`);
  };
  const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
  if (typeof c !== 'object' || c === null) fail('config', 'an object');
  const cfg = c as Record<string, any>;
  if (typeof cfg.generator !== 'object' || cfg.generator === null) fail('generator', 'an object');
  if (typeof cfg.discriminator !== 'object' || cfg.discriminator === null) fail('discriminator', 'an object');
  if (!isPosInt(cfg.generator.ngf) || cfg.generator.ngf > 1024) fail('generator.ngf', 'an integer in 1..1024');
  if (!Number.isInteger(cfg.generator.nBlocks) || cfg.generator.nBlocks < 0 || cfg.generator.nBlocks > 64)
    fail('generator.nBlocks', 'an integer in 0..64');
  if (!isPosInt(cfg.discriminator.ndf) || cfg.discriminator.ndf > 1024) fail('discriminator.ndf', 'an integer in 1..1024');
  if (!isPosInt(cfg.discriminator.nLayers) || cfg.discriminator.nLayers > 8) fail('discriminator.nLayers', 'an integer in 1..8');
  return {
    generator: { ngf: cfg.generator.ngf, nBlocks: cfg.generator.nBlocks },
    discriminator: { ndf: cfg.discriminator.ndf, nLayers: cfg.discriminator.nLayers },
  };
}
