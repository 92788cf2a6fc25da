/**
 * The student generator's configuration, parameter specs and the `fast` preset, without TF.js
 * (the worker validates manifests that carry a student). The network itself: ./student.ts.
 */
import type { GeneratorConfig } from './config.ts';
import { generatorLayout, type ParamSpec } from './param-specs.ts';
import { generatorMacs, mobileGeneratorMacs } from './macs.ts';

export const STUDENT_ARCH = 'mobile-resnet';

/** A student generator: the mobile ResNet at its own width and depth. */
export interface StudentConfig {
  arch: typeof STUDENT_ARCH;
  ngf: number;
  nBlocks: number;
}

export const STUDENT_PRESET_NAMES = ['fast'] as const;
export type StudentPresetName = (typeof STUDENT_PRESET_NAMES)[number];

/**
 * How many times fewer MACs the `fast` preset aims for: 20× below a `full`-sized teacher
 * (ngf ≥ 64), 10× below anything smaller. The student keeps the teacher's block count.
 */
export function fastTargetRatio(teacher: GeneratorConfig): number {
  return teacher.ngf >= 64 ? 20 : 10;
}

/**
 * The `fast` student for a teacher: the teacher's number of blocks, and the widest ngf
 * (at most the teacher's) whose MACs are at most the teacher's / fastTargetRatio. MACs are
 * counted at 256×256; the ratio is the same at every size (every layer scales with H·W).
 */
export function fastStudentConfig(teacher: GeneratorConfig): StudentConfig {
  const budget = generatorMacs(teacher, 256, 256) / fastTargetRatio(teacher);
  let best = 2;
  for (let ngf = 2; ngf <= teacher.ngf; ngf++)
    if (mobileGeneratorMacs({ ngf, nBlocks: teacher.nBlocks }, 256, 256) <= budget) best = ngf;
  return { arch: STUDENT_ARCH, ngf: best, nBlocks: teacher.nBlocks };
}

/** Throws naming the field unless `c` is a student config the network can be built from. */
export function validateStudentConfig(c: unknown): StudentConfig {
  const fail = (field: string, want: string): never => {
    throw new Error(`student config: ${field} must be ${want}`);
  };
  if (typeof c !== 'object' || c === null || Array.isArray(c)) fail('config', 'an object');
  const cfg = c as Record<string, unknown>;
  if (cfg.arch !== STUDENT_ARCH) fail('arch', JSON.stringify(STUDENT_ARCH));
  if (typeof cfg.ngf !== 'number' || !Number.isInteger(cfg.ngf) || cfg.ngf < 1 || cfg.ngf > 1024) fail('ngf', 'an integer in 1..1024');
  if (typeof cfg.nBlocks !== 'number' || !Number.isInteger(cfg.nBlocks) || cfg.nBlocks < 0 || cfg.nBlocks > 64)
    fail('nBlocks', 'an integer in 0..64');
  return { arch: STUDENT_ARCH, ngf: cfg.ngf as number, nBlocks: cfg.nBlocks as number };
}

/** The two separable convs of a block: their Sequential index in `conv_block`. */
export const SEPARABLE = [1, 6] as const;

export function studentParamSpecs(cfg: StudentConfig): ParamSpec[] {
  const { ngf } = cfg;
  const L = generatorLayout(cfg);
  const conv = (name: string, k: number, cin: number, cout: number): ParamSpec[] => [
    { name: `${name}.weight`, shape: [k, k, cin, cout], kind: 'conv' },
    { name: `${name}.bias`, shape: [cout], kind: 'bias' },
  ];
  const convT = (name: string, cin: number, cout: number): ParamSpec[] => [
    { name: `${name}.weight`, shape: [3, 3, cout, cin], kind: 'convTranspose' },
    { name: `${name}.bias`, shape: [cout], kind: 'bias' },
  ];
  const dim = 4 * ngf;
  const specs: ParamSpec[] = [...conv(`model.${L.stem}`, 7, 3, ngf)];
  specs.push(...conv(`model.${L.down[0]}`, 3, ngf, 2 * ngf));
  specs.push(...conv(`model.${L.down[1]}`, 3, 2 * ngf, dim));
  for (const b of L.blocks)
    for (const s of SEPARABLE) {
      const pre = `model.${b}.conv_block.${s}.conv`;
      specs.push({ name: `${pre}.0.weight`, shape: [3, 3, dim, 1], kind: 'depthwise' });
      specs.push({ name: `${pre}.0.bias`, shape: [dim], kind: 'bias' });
      specs.push(...conv(`${pre}.2`, 1, dim, dim));
    }
  specs.push(...convT(`model.${L.up[0]}`, dim, 2 * ngf));
  specs.push(...convT(`model.${L.up[1]}`, 2 * ngf, ngf));
  specs.push(...conv(`model.${L.head}`, 7, ngf, 3));
  return specs;
}

