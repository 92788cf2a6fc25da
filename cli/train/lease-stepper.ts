/**
 * `stripes contribute --threads N`: a community lease's steps on N worker threads
 * (cli/train/parallel.ts) for the one lease-training loop (shared/rounds/lease-training.ts), with
 * the lease's optimizer, per-step lr, imported moments and gradient rules. Identical, bit for
 * bit, to the loop's own one-thread stepper.
 */
import * as tf from '@tensorflow/tfjs-core';
import { oneThreadStepper, type LeaseStepperFactory } from '../../shared/rounds/lease-training.ts';
import type { Weights } from '../../shared/rounds/client.ts';
import { ParallelCycleGAN } from './parallel.ts';

/** Steps on `threads` worker threads (wasm); 1 is the loop's own `trainStep` on this thread. */
export function threadedLeaseStepper(threads: number): LeaseStepperFactory {
  if (threads <= 1) return oneThreadStepper;
  return async (o) => {
    const team = await ParallelCycleGAN.open({
      threads,
      config: o.config,
      adam: o.optimizer,
      weights: o.base,
      optimizer: o.optimizerState,
      lambdas: o.lambdas,
      rules: o.rules,
    });
    return {
      step(batch, pools, lr) {
        return team.step(tf, { data: batch.a, shape: batch.shape }, { data: batch.b, shape: batch.shape }, pools, lr);
      },
      async weights() {
        return (await team.exportState()).weights as Weights;
      },
      dispose: () => team.dispose(),
    };
  };
}
