/**
 * The learning-rate schedule of the paper: constant for the first half of training, then a
 * linear decay towards zero.
 *
 * The reference (`networks.get_scheduler`, lr_policy 'linear') multiplies the base rate, in
 * epoch e = 0, 1, … (the scheduler's `last_epoch`), by
 *
 *     lambda_rule(e) = 1 − max(0, e + epoch_count − n_epochs) / (n_epochs_decay + 1)
 *
 * with epoch_count = 1. Stripes counts iterations instead of epochs: for a run of T iterations,
 * iteration i (0-based) uses
 *
 *     lr(i) = lr · (1 − max(0, i + 1 − n_const) / (n_decay + 1)),  n_const = ⌈T/2⌉, n_decay = T − n_const
 *
 * i.e. the reference's rule with one "epoch" per iteration, n_epochs = n_const and
 * n_epochs_decay = n_decay (T = 200 gives the reference's defaults 100 + 100). As in the
 * reference the rate reaches zero one step past the end: the last iteration runs at
 * lr / (n_decay + 1).
 */

/** The reference's lambda rule, for epoch e (0-based) with epoch_count 1. */
export function lambdaRule(epoch: number, nEpochs: number, nEpochsDecay: number): number {
  return 1 - Math.max(0, epoch + 1 - nEpochs) / (nEpochsDecay + 1);
}

/** How a run of `totalIters` splits into the constant and the decaying part. */
export function scheduleSplit(totalIters: number): { nConst: number; nDecay: number } {
  if (!Number.isInteger(totalIters) || totalIters < 1) throw new Error(`schedule: totalIters must be a positive integer, got ${totalIters}`);
  const nConst = Math.ceil(totalIters / 2);
  return { nConst, nDecay: totalIters - nConst };
}

/** The learning rate of iteration `iter` (0-based) in a run of `totalIters` with base rate `baseLr`. */
export function learningRate(iter: number, totalIters: number, baseLr: number): number {
  const { nConst, nDecay } = scheduleSplit(totalIters);
  if (!Number.isInteger(iter) || iter < 0) throw new Error(`schedule: iteration must be a non-negative integer, got ${iter}`);
  return baseLr * Math.max(0, lambdaRule(iter, nConst, nDecay));
}
