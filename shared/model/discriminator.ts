/**
 * The 70×70 PatchGAN discriminator (the reference's NLayerDiscriminator with instance norm):
 * 4×4 convs with padding 1, stride 2 for the first nLayers, then two stride-1 convs; LeakyReLU
 * 0.2 after all but the last; instance norm on all but the first and the last. It answers one
 * logit per overlapping 70×70 patch (LSGAN takes them raw: no sigmoid).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor1D, Tensor4D } from '@tensorflow/tfjs-core';
import type { DiscriminatorConfig } from './config.ts';
import { discriminatorLayers } from './param-specs.ts';
import { param, type Params } from './generator.ts';
import { conv2dPadded, instanceNorm } from './ops.ts';

/** NHWC images in [-1, 1] → `[batch, h', w', 1]` patch scores. Call inside `tf.tidy`. */
export function discriminator(params: Params, cfg: DiscriminatorConfig, x: Tensor4D): Tensor4D {
  if (x.rank !== 4 || x.shape[3] !== 3) throw new Error(`discriminator: input must be [batch, height, width, 3], got [${x.shape}]`);
  return tf.tidy(() => {
    let y = x;
    for (const l of discriminatorLayers(cfg)) {
      if (y.shape[1] + 2 < 4 || y.shape[2] + 2 < 4)
        throw new Error(`discriminator: input ${x.shape[1]}×${x.shape[2]} is too small for ${cfg.nLayers} layers`);
      const w = param<Tensor4D>(params, `model.${l.index}.weight`, 4);
      const b = param<Tensor1D>(params, `model.${l.index}.bias`, 1);
      y = conv2dPadded(y, w, b, l.stride, 1);
      if (l.norm) y = instanceNorm(y);
      if (l.act) y = tf.leakyRelu(y, 0.2);
    }
    return y;
  });
}
