/**
 * The ResNet generator of CycleGAN (Johnson et al.'s architecture as the paper uses it):
 * c7s1-ngf, d2ngf, d4ngf, N residual blocks at 4ngf, u2ngf, ungf, c7s1-3, Tanh. Equal to the
 * reference's ResnetGenerator with instance norm, reflect padding and no dropout.
 *
 * Parameters are looked up by the reference's state_dict keys (param-specs.ts), so an official
 * checkpoint runs unchanged.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor1D, Tensor4D } from '@tensorflow/tfjs-core';
import type { GeneratorConfig } from './config.ts';
import { generatorLayout } from './param-specs.ts';
import { conv2dPadded, convTranspose3x3s2, instanceNorm, reflectPad } from './ops.ts';

export type Params = Record<string, Tensor>;

/** A parameter by name and rank, or an error naming what is missing. */
export function param<T extends Tensor>(params: Params, name: string, rank: number): T {
  const t = params[name];
  if (t === undefined) throw new Error(`model parameter "${name}" is missing`);
  if (t.rank !== rank) throw new Error(`model parameter "${name}" has shape [${t.shape}], expected rank ${rank}`);
  return t as T;
}

function convLayer(params: Params, name: string, x: Tensor4D, stride: number, padding: number): Tensor4D {
  return conv2dPadded(x, param<Tensor4D>(params, `${name}.weight`, 4), param<Tensor1D>(params, `${name}.bias`, 1), stride, padding);
}

function resnetBlock(params: Params, index: number, x: Tensor4D): Tensor4D {
  const pre = `model.${index}.conv_block`;
  let y = tf.relu(instanceNorm(convLayer(params, `${pre}.1`, reflectPad(x, 1), 1, 0)));
  y = instanceNorm(convLayer(params, `${pre}.5`, reflectPad(y, 1), 1, 0));
  return tf.add(x, y);
}

/**
 * Translates a batch of NHWC images in [-1, 1] (3 channels, sides a multiple of 4) into
 * images of the same size in [-1, 1]. Call inside `tf.tidy` (or dispose the result); the
 * intermediates are freed here.
 */
export function generator(params: Params, cfg: GeneratorConfig, x: Tensor4D): Tensor4D {
  if (x.rank !== 4 || x.shape[3] !== 3) throw new Error(`generator: input must be [batch, height, width, 3], got [${x.shape}]`);
  const [, h, w] = x.shape;
  if (h % 4 !== 0 || w % 4 !== 0 || h < 8 || w < 8)
    throw new Error(`generator: height and width must be multiples of 4 and at least 8, got ${h}×${w}`);
  const L = generatorLayout(cfg);
  return tf.tidy(() => {
    let y = tf.relu(instanceNorm(convLayer(params, `model.${L.stem}`, reflectPad(x, 3), 1, 0)));
    for (const i of L.down) y = tf.relu(instanceNorm(convLayer(params, `model.${i}`, y, 2, 1)));
    for (const i of L.blocks) y = resnetBlock(params, i, y);
    for (const i of L.up) {
      const wT = param<Tensor4D>(params, `model.${i}.weight`, 4);
      y = tf.relu(instanceNorm(convTranspose3x3s2(y, wT, param<Tensor1D>(params, `model.${i}.bias`, 1))));
    }
    return tf.tanh(convLayer(params, `model.${L.head}`, reflectPad(y, 3), 1, 0));
  });
}
