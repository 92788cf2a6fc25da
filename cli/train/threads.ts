/** How many cores `stripes train` uses unless --threads says. */
import { availableParallelism } from 'node:os';
import type { NodeBackend } from '../tf-backend.ts';

/** Most worker threads one iteration can keep busy (cli/train/parallel.ts: four generator chunks). */
export const MAX_TRAIN_THREADS = 4;

/**
 * Two threads where there are two cores (wasm only; the cpu backend trains on one), else one.
 * On 2 cores the split costs 1.05× the CPU of one thread and halves the on-core time of an
 * iteration (README "Every core"; bench/train-threads.ts), bit-identical results either way.
 * Not more by default: 3 and 4 threads split unevenly (the extra workers run only the identity
 * chunks) and each adds a full replica and wasm heap; --threads 3 or 4 asks for them.
 */
export function defaultTrainThreads(backend: NodeBackend, cores = availableParallelism()): number {
  return backend === 'wasm' && cores >= 2 ? 2 : 1;
}
