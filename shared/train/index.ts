/**
 * CycleGAN training on TF.js, backend-free (Node CLI, headless contributors, browser Web Worker).
 *
 * Typical loop (the caller picks the backend, e.g. cli/tf-backend.ts `useBackend('wasm')`):
 *
 *   const model = createCycleGAN(config, { seed });          // or { weights } from a checkpoint
 *   const pools = { A: new ImagePool(DEFAULT_POOL_SIZE, rng), B: new ImagePool(DEFAULT_POOL_SIZE, rng) };
 *   for (let i = start; i < total; i++) {
 *     const losses = await trainStep(model, pools, realA, realB, { lr: learningRate(i, total, CYCLEGAN_ADAM.lr) });
 *     // losses: { D_A, G_A, cycle_A, idt_A, D_B, G_B, cycle_B, idt_B } (the reference's names)
 *   }
 *   const state = await exportTrainingState(model);          // weights + both Adams, Float32Arrays
 *   importTrainingState(model, state);                        // exact resume (validated first)
 *   disposeCycleGAN(model); pools.A.dispose(); pools.B.dispose();
 *
 * - `trainStep` owns nothing it is given: the caller disposes realA/realB (NHWC, [-1, 1]).
 *   It frees everything it makes; only the pools keep tensors (≤ size each; `count` says how many).
 * - `visuals(model, realA, realB)` gives fake_B, rec_A, fake_A, rec_B for reports.
 * - `generatorPass` / `discriminatorPass` are the two halves without the update (gradients
 *   exposed), for tests and for schemes that aggregate gradients instead of steps.
 * - For community rounds: `exportWeights` / `importWeights` by network, and each Adam's
 *   `exportState` / `importState` (keys `${net}/${param}`).
 * - Training on 'wasm' needs `registerWasmTrainingKernels()` (shared/tfjs/wasm-kernels.ts);
 *   `createCycleGAN` calls it.
 */
export { lsgan, l1 } from './losses.ts';
export { ImagePool, DEFAULT_POOL_SIZE } from './image-pool.ts';
export { learningRate, lambdaRule, scheduleSplit } from './schedule.ts';
export { Adam, CYCLEGAN_ADAM, type AdamConfig, type AdamSlot, type AdamState } from './adam.ts';
export {
  createCycleGAN,
  disposeCycleGAN,
  exportTrainingState,
  exportWeights,
  importTrainingState,
  importWeights,
  paramsOf,
  slotKey,
  specsOf,
  type CycleGAN,
  type NetworkWeights,
  type TrainingState,
} from './cyclegan.ts';
export {
  CYCLEGAN_LOSS_WEIGHTS,
  LOSS_NAMES,
  discriminatorPass,
  generatorPass,
  trainStep,
  visuals,
  type DiscriminatorPass,
  type FakePools,
  type GeneratorPass,
  type Gradients,
  type LossName,
  type Losses,
  type LossWeights,
  type StepOptions,
  type Visuals,
} from './train-step.ts';
export {
  createDistiller,
  DISTILL_LOSS_NAMES,
  DISTILL_WEIGHTS,
  type Distiller,
  type DistillerOptions,
  type DistillLosses,
  type DistillState,
  type DistillWeights,
} from './distill.ts';
