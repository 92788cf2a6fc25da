/** How many cores `stripes train` and `stripes contribute` use unless --threads says. */
import { availableParallelism } from 'node:os';
import type { NodeBackend } from '../tf-backend.ts';

/** Most worker threads one iteration can keep busy (cli/train/parallel.ts: four generator chunks). */
export const MAX_TRAIN_THREADS = 4;

/**
 * One thread unless --threads says: measured side by side on a 2-core machine, the split does not
 * pay yet (0.96× for small, 0.86× for full at 64×64 with the machine lightly loaded, at 1.3× the
 * CPU: every worker still runs the whole optimizer step; README "Every core"). `cores` is what
 * --threads may use at most.
 */
export function defaultTrainThreads(_backend: NodeBackend, _cores = availableParallelism()): number {
  return 1;
}
