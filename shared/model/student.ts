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
import { param, type Params } from './generator.ts';
import { generatorLayout } from './param-specs.ts';
import { conv2dPadded, convTranspose3x3s2, instanceNorm, reflectPad } from './ops.ts';
import { SEPARABLE, type StudentConfig } from './student-config.ts';

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
