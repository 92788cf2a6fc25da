/**
 * The compact student generator distilled from a pair's generator (GAN Compression, Li et al.
 * 2020, "MobileResnetGenerator"): the teacher's c7s1-ngf stem, two stride-2 downsampling convs,
 * two stride-2 transposed convs and c7s1-3 head, but each residual block's two 3×3 convs are
 * depthwise-separable. One block, with the indices of its `conv_block` Sequential:
 *
 *   0 ReflectionPad(1)
 *   1 SeparableConv: conv.0 depthwise 3×3 (dim→dim, groups dim, bias), conv.1 InstanceNorm(dim),
 *                    conv.2 pointwise 1×1 (dim→dim, bias)
 *   2 InstanceNorm(dim)   3 ReLU   4 Dropout(0)
 *   5 ReflectionPad(1)
 *   6 SeparableConv (as 1)
 *   7 InstanceNorm(dim)
 *   and the skip: x + conv_block(x)
 *
 * Note the instance norm between the depthwise and the pointwise conv, inside the separable conv:
 * the paper's block has it, and it is what keeps the depthwise outputs on one scale.
 *
 * Parameter names are the state_dict keys of that architecture (`model.10.conv_block.1.conv.0.weight`,
 * …), so a PyTorch MobileResnetGenerator maps one to one. Layouts (Stripes, NHWC): depthwise
 * weights are `[3, 3, dim, 1]` (TF.js depthwiseConv2d's filter), pointwise `[1, 1, dim, dim]`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor1D, Tensor4D } from '@tensorflow/tfjs-core';
import type { GeneratorConfig } from './config.ts';
import { param, type Params } from './generator.ts';
import { generatorLayout, type ParamSpec } from './param-specs.ts';
import { conv2dPadded, convTranspose3x3s2, instanceNorm, reflectPad } from './ops.ts';
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
    if (mobileGeneratorMacs({ arch: STUDENT_ARCH, ngf, nBlocks: teacher.nBlocks }, 256, 256) <= budget) best = ngf;
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
const SEPARABLE = [1, 6] as const;

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

/** Depthwise 3×3 (valid: the caller reflect-pads) + bias, instance norm, pointwise 1×1 + bias. */
function separableConv(params: Params, pre: string, x: Tensor4D): Tensor4D {
  const dw = tf.fused.depthwiseConv2d({
    x,
    filter: param<Tensor4D>(params, `${pre}.0.weight`, 4),
    bias: param<Tensor1D>(params, `${pre}.0.bias`, 1),
    strides: 1,
    pad: 'valid',
  });
  return conv2dPadded(instanceNorm(dw), param<Tensor4D>(params, `${pre}.2.weight`, 4), param<Tensor1D>(params, `${pre}.2.bias`, 1), 1, 0);
}

function mobileBlock(params: Params, index: number, x: Tensor4D): Tensor4D {
  const pre = `model.${index}.conv_block`;
  let y = tf.relu(instanceNorm(separableConv(params, `${pre}.${SEPARABLE[0]}.conv`, reflectPad(x, 1))));
  y = instanceNorm(separableConv(params, `${pre}.${SEPARABLE[1]}.conv`, reflectPad(y, 1)));
  return tf.add(x, y);
}

function convLayer(params: Params, name: string, x: Tensor4D, stride: number, padding: number): Tensor4D {
  return conv2dPadded(x, param<Tensor4D>(params, `${name}.weight`, 4), param<Tensor1D>(params, `${name}.bias`, 1), stride, padding);
}

/**
 * The student: NHWC images in [-1, 1] (sides a multiple of 4, at least 8) → same size in [-1, 1].
 * Same contract as `generator`; call inside `tf.tidy` or dispose the result.
 */
export function mobileGenerator(params: Params, cfg: StudentConfig, x: Tensor4D): Tensor4D {
  if (x.rank !== 4 || x.shape[3] !== 3) throw new Error(`student generator: input must be [batch, height, width, 3], got [${x.shape}]`);
  const [, h, w] = x.shape;
  if (h % 4 !== 0 || w % 4 !== 0 || h < 8 || w < 8)
    throw new Error(`student generator: height and width must be multiples of 4 and at least 8, got ${h}×${w}`);
  const L = generatorLayout(cfg);
  return tf.tidy(() => {
    let y = tf.relu(instanceNorm(convLayer(params, `model.${L.stem}`, reflectPad(x, 3), 1, 0)));
    for (const i of L.down) y = tf.relu(instanceNorm(convLayer(params, `model.${i}`, y, 2, 1)));
    for (const i of L.blocks) y = mobileBlock(params, i, y);
    for (const i of L.up) {
      const wT = param<Tensor4D>(params, `model.${i}.weight`, 4);
      y = tf.relu(instanceNorm(convTranspose3x3s2(y, wT, param<Tensor1D>(params, `model.${i}.bias`, 1))));
    }
    return tf.tanh(convLayer(params, `model.${L.head}`, reflectPad(y, 3), 1, 0));
  });
}
