/**
 * Checks on a contribution that need no storage: counts, norms and their bounds. The round
 * (worker/rounds/pair-round.ts) applies them at upload and commit, and records the reason of
 * every rejection.
 *
 * Two different norm limits, on purpose:
 *
 * - A hard bound at commit, from the round's own settings: what K inner steps could possibly move
 *   a network of P parameters. An Adam step moves each parameter by at most
 *   lr·(1−β1)/√(1−β2) (or lr when 1−β1 ≤ √(1−β2); Kingma & Ba 2015, §2.1), so
 *   ‖δ‖ ≤ lr·K·√P·that factor; with SGD and gradients clipped to G per network, ‖δ‖ ≤ lr·K·G.
 *   Anything beyond is not the product of the training the lease asked for and is rejected.
 *   It is decided on arrival and does not depend on who committed first.
 * - A soft bound at aggregation: each delta is clipped to `clipMultiple × median` of the
 *   accepted norms of that network. The median is only known once the round closes, and it
 *   tracks what honest contributors actually produce (often far below the hard bound), so one
 *   large but legal delta cannot dominate the mean.
 */
import type { NetworkName } from '../model/config.ts';
import { median } from './aggregate.ts';
import type { CommitRequest, RejectReason, TrainSettings } from './protocol.ts';

export interface Rejection {
  reason: RejectReason;
  message: string;
}

/** The largest per-parameter move of one Adam step relative to lr (Kingma & Ba §2.1). */
export function adamStepFactor(beta1: number, beta2: number): number {
  const a = 1 - beta1;
  const b = Math.sqrt(1 - beta2);
  return a > b ? a / b : 1;
}

/** The hard per-network norm bound for a contribution of `steps` inner steps on `params` values. */
export function normBound(train: TrainSettings, steps: number, params: number): number {
  if (train.optimizer === 'adam') return train.lr * steps * Math.sqrt(params) * adamStepFactor(train.beta1, train.beta2);
  return train.lr * steps * train.gradClip;
}

/** The aggregation clip C for one network: `multiple × median` of the accepted norms. */
export function clipBound(acceptedNorms: readonly number[], multiple: number): number {
  if (acceptedNorms.length === 0) return Infinity;
  const m = median(acceptedNorms);
  // All-zero deltas: nothing to clip, and C = 0 would divide by zero later.
  return m > 0 ? multiple * m : Infinity;
}

/**
 * Checks a commit's counts and norms. `measured` is ‖δ‖ per network as the server decoded the
 * uploaded shards; the claimed norms must agree within float16 summation noise.
 */
export function checkCommit(
  req: CommitRequest,
  train: TrainSettings,
  lengths: Record<NetworkName, number>,
  measured: Record<NetworkName, number>,
): Rejection | null {
  if (req.steps > train.steps)
    return { reason: 'bad_counts', message: `steps ${req.steps} exceeds the lease's ${train.steps} inner steps` };
  if (req.samples > req.steps * train.batchSize)
    return { reason: 'bad_counts', message: `samples ${req.samples} exceeds steps × batch size (${req.steps} × ${train.batchSize})` };
  for (const net of Object.keys(lengths) as NetworkName[]) {
    const m = measured[net];
    const claimed = req.norms[net];
    if (!(Math.abs(m - claimed) <= 1e-3 * Math.max(m, claimed) + 1e-12))
      return { reason: 'norm_mismatch', message: `${net}: claimed norm ${claimed} but the uploaded shards have norm ${m}` };
    const bound = normBound(train, req.steps, lengths[net]);
    if (m > bound)
      return {
        reason: 'norm_too_large',
        message: `${net}: delta norm ${m.toPrecision(4)} exceeds the bound ${bound.toPrecision(4)} for ${req.steps} ${train.optimizer} steps at lr ${train.lr}`,
      };
  }
  return null;
}
