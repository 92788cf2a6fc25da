/**
 * The CycleGAN objective's two distances, as the reference computes them (PyTorch `nn.MSELoss`
 * and `nn.L1Loss`, both averaged over every element).
 *
 * LSGAN (Mao et al. 2017) replaces the log-likelihood GAN loss with a least-squares one: the
 * discriminator's raw patch scores are pulled towards 1 for "real" and 0 for "fake".
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Scalar, Tensor } from '@tensorflow/tfjs-core';

/** mean((prediction − target)²) with a constant target (1 = real, 0 = fake). */
export function lsgan(prediction: Tensor, targetIsReal: boolean): Scalar {
  return tf.tidy(() => tf.mean(tf.square(tf.sub(prediction, targetIsReal ? 1 : 0))));
}

/** mean(|a − b|). */
export function l1(a: Tensor, b: Tensor): Scalar {
  return tf.tidy(() => tf.mean(tf.abs(tf.sub(a, b))));
}
