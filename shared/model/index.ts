/**
 * The CycleGAN model on TF.js, backend-free. What others import:
 *
 * - `generator(params, cfg, x)`: ResNet generator, NHWC images in [-1, 1] → same size in [-1, 1].
 * - `discriminator(params, cfg, x)`: 70×70 PatchGAN, images → `[batch, h', w', 1]` raw scores.
 * - `initNetwork(specs, seed)` / `initValues`: N(0, 0.02) weights, zero biases, same for a seed everywhere.
 * - Building blocks (exact PyTorch equivalents, forward and gradient): `reflectPad`,
 *   `instanceNorm`, `conv2dPadded` (conv with symmetric padding + bias), `convTranspose3x3s2`
 *   (ConvTranspose2d k3 s2 p1 op1 as a 2×2 conv + pixel shuffle).
 * - `mobileGenerator(params, cfg, x)`: the compact distilled student (./student.ts), and MAC counts (./macs.ts).
 * - Configs and parameter specs: `./config.ts`, `./param-specs.ts`.
 */
export { generator, param, type Params } from './generator.ts';
export { discriminator } from './discriminator.ts';
export { initNetwork, initValues, mulberry32, normalStream, INIT_STD } from './init.ts';
export {
  reflectPad,
  instanceNorm,
  conv2dPadded,
  convTranspose3x3s2,
  convTransposeAsConvWeight,
  INSTANCE_NORM_EPS,
} from './ops.ts';
export * from './config.ts';
export * from './student-config.ts';
export { mobileGenerator } from './student.ts';
export { generatorMacs, mobileGeneratorMacs } from './macs.ts';
export * from './param-specs.ts';
