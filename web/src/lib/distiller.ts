/**
 * The page's handle on the distiller worker (web/src/lib/distiller.worker.ts), through
 * worker-rpc.ts. One worker per distillation: it holds the teacher, the students and both
 * optimizers, so it is closed when the run is published or abandoned.
 */
import type { DistillerMethods } from './messages.ts';
import { RpcClient } from './worker-rpc.ts';

export function startDistiller(): RpcClient<DistillerMethods> {
  return new RpcClient<DistillerMethods>(() => new Worker(new URL('./distiller.worker.ts', import.meta.url), { type: 'module', name: 'distiller' }));
}

/** Steps offered by default: a few minutes of WASM on a laptop at 128 px crops for a `small` pair, enough for a usable student. */
export const DEFAULT_DISTILL_STEPS = 300;
/** Crop sides offered (the CLI's default is 256 px; the browser starts at 128 for time). */
export const DISTILL_CROPS = [64, 128, 256] as const;
export const DEFAULT_DISTILL_CROP = 128;
