/**
 * The page's handle on the translator worker, through worker-rpc.ts: what the page shows
 * (backend, download and translation progress, busy) is reactive state here. A worker that dies
 * (wasm abort, out of memory, no answer, a cancel it could not honour) is restarted by the RPC
 * client; this class then forgets the backend and models the old one held, so the next call
 * sets them up again (weights from the Cache Storage, nothing downloaded).
 */
import { GENERATOR_FOR, type Direction } from '../../../shared/model/config.ts';
import type { CheckpointManifest } from '../../../shared/weights/format.ts';
import type {
  BackendAttempt,
  BackendChoice,
  BackendName,
  LoadProgress,
  LoadResult,
  Pixels,
  Quality,
  TranslateProgress,
  TranslateResult,
  TranslatorMethods,
} from './messages.ts';
import { requestedThreads } from './messages.ts';
import { defaultQuality } from './quality.ts';
import { CancelledError, RpcClient, WorkerDiedError } from './worker-rpc.ts';

/** A translation that sends nothing (no tile done) for this long has hung: the worker is restarted. */
const TRANSLATE_IDLE_MS = 120_000;
/** Starting a backend (shader compiles, adapter requests) gets this long. */
const BACKEND_IDLE_MS = 90_000;

export { CancelledError, WorkerDiedError };

/** What a failed translation means for the person using the page, in one plain sentence. */
export function explainFailure(e: unknown): string {
  if (e instanceof WorkerDiedError) {
    const oom = /Aborted\(|out of bounds|out of memory|allocation failed|Array buffer/i.test(e.detail);
    if (e.reason === 'fatal' && oom) return 'The translator ran out of memory and was restarted; try Downscale.';
    if (e.reason === 'unresponsive') return 'The translator stopped responding and was restarted; try Downscale.';
    if (e.reason === 'cancel-timeout') return 'The translator was restarted to stop the previous image.';
    return `The translator stopped unexpectedly (${e.detail || e.reason}) and was restarted; try again, or Downscale.`;
  }
  return e instanceof Error ? e.message : String(e);
}

export interface Work extends TranslateProgress {
  /** performance.now() when the translation started. */
  startedAt: number;
}

export class Translator {
  /** The backend the worker runs on, once one has started; null again after a restart. */
  backend = $state<BackendName | null>(null);
  attempts = $state<BackendAttempt[]>([]);
  /** The wasm backend's thread count when it runs on wasm, else null. */
  threads = $state<number | null>(null);
  /** Whether the backend is a GPU one rendering in software (only when forced: `auto` skips those). */
  softwareGpu = $state(false);
  /** Weight download progress of the current load, or null when none is running. */
  progress = $state<LoadProgress | null>(null);
  /** The running translation's progress, or null when none is running. */
  work = $state<Work | null>(null);
  /** Worker restarts so far, and why the last one happened (plain language). */
  restarts = $state(0);
  lastRestart = $state<string | null>(null);
  /** Requests in flight; `busy` while any is. */
  #inFlight = $state(0);
  get busy(): boolean {
    return this.#inFlight > 0;
  }

  #rpc: RpcClient<TranslatorMethods>;
  /** What the current worker has been set up with. */
  #applied: BackendChoice | null = null;
  #loaded = new Set<string>();

  constructor() {
    this.#rpc = new RpcClient<TranslatorMethods>(
      () => new Worker(new URL('./translator.worker.ts', import.meta.url), { type: 'module', name: 'translator' }),
      {
        onDeath: (e) => {
          this.backend = null;
          this.threads = null;
          this.softwareGpu = false;
          this.#applied = null;
          this.#loaded.clear();
          this.restarts++;
          this.lastRestart = explainFailure(e);
        },
      },
    );
  }

  async #tracked<R>(work: () => Promise<R>): Promise<R> {
    this.#inFlight++;
    try {
      return await work();
    } finally {
      this.#inFlight--;
    }
  }

  /** Starts the chosen backend (or the first that works); forcing one that fails throws. */
  setBackend(choice: BackendChoice): Promise<BackendName> {
    return this.#tracked(async () => {
      const reply = await this.#rpc.call('setBackend', { choice, threads: requestedThreads() }, { idleTimeoutMs: BACKEND_IDLE_MS });
      this.backend = reply.backend;
      this.threads = reply.threads ?? null;
      this.attempts = reply.attempts;
      this.softwareGpu = reply.softwareGpu;
      this.#applied = choice;
      return reply.backend;
    });
  }

  /** Downloads (or reads from cache) the generator for a direction: the student for `fast`. */
  load(modelKey: string, manifest: CheckpointManifest, direction: Direction, quality: Quality, shardBase: string): Promise<LoadResult> {
    return this.#tracked(async () => {
      this.progress = null;
      try {
        const args = { modelKey, manifest: $state.snapshot(manifest) as CheckpointManifest, direction, quality, shardBase };
        const result = await this.#rpc.call('load', args, { onProgress: (p) => (this.progress = p) });
        this.#loaded.add(`${modelKey}/${direction}/${quality}`);
        return result;
      } finally {
        this.progress = null;
      }
    });
  }

  /**
   * Brings the worker to the chosen backend with the direction's generator loaded. `quality`
   * 'auto' is decided once the backend is known (quality.ts: the student without a real GPU);
   * without a student for the direction it is always the pair's own generator. Resolves to the
   * quality used and the load's result when weights were loaded now (null when already there).
   */
  async prepare(
    choice: BackendChoice,
    modelKey: string,
    manifest: CheckpointManifest,
    direction: Direction,
    quality: Quality | 'auto',
    shardBase: string,
  ): Promise<{ quality: Quality; loaded: LoadResult | null }> {
    // A cancelled translation may still be stopping, or end in a restart that empties the
    // worker: decide what to set up only after that has settled.
    await this.#rpc.drained();
    if (this.#applied !== choice || !this.backend) await this.setBackend(choice);
    const net = GENERATOR_FOR[direction];
    const wanted = quality === 'auto' ? defaultQuality(this.backend, this.softwareGpu) : quality;
    const used: Quality = wanted === 'fast' && !manifest.variants?.fast?.groups[net] ? 'full' : wanted;
    if (this.#loaded.has(`${modelKey}/${direction}/${used}`)) return { quality: used, loaded: null };
    return { quality: used, loaded: await this.load(modelKey, manifest, direction, used, shardBase) };
  }

  /**
   * Translates pixels on the device; the input buffer is copied, the result is new. Progress is
   * in `work`; `signal` cancels (CancelledError), and the worker is restarted if it cannot stop
   * within a second.
   */
  translate(modelKey: string, direction: Direction, quality: Quality, image: Pixels, signal?: AbortSignal): Promise<TranslateResult> {
    return this.#tracked(async () => {
      const copy = { width: image.width, height: image.height, data: new Uint8ClampedArray(image.data) };
      this.work = { done: 0, total: 0, fraction: 0, startedAt: performance.now() };
      try {
        const result = await this.#rpc.call(
          'translate',
          { modelKey, direction, quality, image: copy },
          {
            transfer: [copy.data.buffer],
            signal,
            idleTimeoutMs: TRANSLATE_IDLE_MS,
            onProgress: (p) => {
              if (this.work) this.work = { ...p, startedAt: this.work.startedAt };
            },
          },
        );
        this.backend = result.backend;
        return result;
      } finally {
        this.work = null;
      }
    });
  }

  /** Test builds only: breaks the worker as a real failure would (see TranslatorMethods.testCrash). */
  testCrash(how: TranslatorMethods['testCrash']['args']['how']): Promise<void> {
    return this.#rpc.call('testCrash', { how });
  }

  terminate(): void {
    this.#rpc.terminate();
  }
}
