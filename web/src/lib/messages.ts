/**
 * The messages between the page and its Web Workers, in types both sides import: the translator's
 * methods (called through worker-rpc.ts) and the trainer's requests and replies.
 */
import type { Direction, ModelConfig } from '../../../shared/model/config.ts';
import type { CheckpointManifest } from '../../../shared/weights/format.ts';
import type { StudentConfig } from '../../../shared/model/student-config.ts';
import type { Quality } from './quality.ts';

export type { Quality };

/** TF.js backends in the order they are tried: fastest first. */
export const BACKENDS = ['webgpu', 'webgl', 'wasm'] as const;
export type BackendName = (typeof BACKENDS)[number];
export type BackendChoice = BackendName | 'auto';

/**
 * Most wasm threads a worker runs: the pthread workers tfjs-backend-wasm's glue pre-starts (a
 * thread beyond them could not start while XNNPACK waits for it: web/vite.config.ts).
 */
export const MAX_WASM_THREADS = 8;

/**
 * localStorage key of a wasm thread count to use instead of one per core (a tuning and testing
 * knob: `localStorage.setItem('stripes.threads', '1')` gives the single-threaded SIMD build).
 */
export const THREADS_KEY = 'stripes.threads';

/**
 * The wasm thread count the page asks its workers for: the stored override, else one per
 * logical core as the page sees it (the worker clamps it to 1..MAX_WASM_THREADS, and to 1 when
 * the page is not cross-origin isolated).
 */
export function requestedThreads(): number {
  const stored = Number(globalThis.localStorage?.getItem(THREADS_KEY) ?? NaN);
  if (Number.isInteger(stored) && stored >= 1) return stored;
  return globalThis.navigator?.hardwareConcurrency ?? 1;
}

/** RGBA pixels, as ImageData holds them (transferable without a canvas). */
export interface Pixels {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

export interface BackendAttempt {
  backend: BackendName;
  error?: string;
}

export interface LoadResult {
  /** Which generator was loaded: the distilled student (`fast`) or the pair's own (`full`). */
  quality: Quality;
  variant: 'float16' | 'float32';
  totalBytes: number;
  /** Bytes that came over the network; 0 on a warm cache. */
  networkBytes: number;
  shardsFetched: number;
  shardsCached: number;
}

export interface TranslateResult {
  image: Pixels;
  /** Which generator translated: the distilled student (`fast`) or the pair's own (`full`). */
  quality: Quality;
  /** Tiles per pass when the image went through the tiled generator (1: the whole image at once). */
  tiles: number;
  backend: BackendName;
  /** Time of the forward pass plus reading the pixels back, warm-up excluded. */
  ms: number;
  /** Whether this call compiled the model for a new size first. */
  warmedUp: boolean;
  /** Tensors alive after the translation: stays flat when nothing leaks. */
  numTensors: number;
  /** Size of the WebAssembly backend's heap afterwards (it never shrinks: its high-water mark), or null on other backends. */
  heapBytes: number | null;
}

/** Progress of a translation: tiles done over all passes (docs/translate.md). */
export interface TranslateProgress {
  done: number;
  total: number;
  /** Share of the estimated work done, 0..1. */
  fraction: number;
}

/** Weight download progress. */
export interface LoadProgress {
  loadedBytes: number;
  totalBytes: number;
  networkBytes: number;
}

/**
 * The translator worker's methods (web/src/lib/translator.worker.ts), called through
 * worker-rpc.ts: arguments, result and progress of each.
 */
export type TranslatorMethods = {
  setBackend: {
    /** `threads`: wasm threads wanted (requestedThreads()); fixed once the wasm backend has started in this worker. */
    args: { choice: BackendChoice; threads?: number };
    /**
     * `softwareGpu`: the backend is a GPU one rendering in software (SwiftShader…), which `auto` skips but a forced choice runs.
     * `threads`: the wasm backend's thread count, when it runs on wasm.
     */
    result: { backend: BackendName; attempts: BackendAttempt[]; softwareGpu: boolean; threads?: number };
  };
  load: {
    args: {
      /** Identifies the weights (pair and version): a new key drops the previous model. */
      modelKey: string;
      manifest: CheckpointManifest;
      direction: Direction;
      /** The student (`variants.fast`) or the pair's own generator. */
      quality: Quality;
      /** Absolute URL prefix a shard's hash is appended to. */
      shardBase: string;
    };
    result: LoadResult;
    progress: LoadProgress;
  };
  translate: { args: { modelKey: string; direction: Direction; quality: Quality; image: Pixels }; result: TranslateResult; progress: TranslateProgress };
  /**
   * Test builds only (VITE_STRIPES_TEST_HOOKS=1): 'abort' and 'hang' make the next translation
   * trap like a wasm out-of-memory, or spin inside "one long kernel", after its first tile;
   * 'throw-uncaught' raises an error event now.
   */
  testCrash: { args: { how: 'abort' | 'hang' | 'throw-uncaught' }; result: void };
};

/**
 * The training worker's messages (web/src/lib/trainer.worker.ts). It contributes to a pair's
 * round with the shared contributor client; the images arrive as files and never leave the device.
 */
export interface TrainBudget {
  /** Stop after this many steps (at most the round's K)... */
  steps?: number;
  /** ...or once this much time has gone, whichever comes first. */
  minutes?: number;
}

export type TrainerRequest =
  /** 'cpu' is TF.js's plain-JS reference backend: slow, but what a GPU step is checked against. */
  | { id: number; type: 'setBackend'; choice: BackendChoice | 'cpu'; threads?: number }
  /**
   * Stops the lease being trained between two steps: 'upload' sends the steps done so far (at
   * least one), 'discard' uploads nothing (the contribute request then fails with that message).
   */
  | { id: number; type: 'stop'; mode: 'upload' | 'discard' }
  | {
      id: number;
      type: 'contribute';
      /** The API origin, e.g. location.origin. */
      server: string;
      slug: string;
      token: string;
      images: { A: Blob[]; B: Blob[] };
      budget: TrainBudget;
      /** Send a preview (fake_B, rec_A) every this many steps. */
      previewEvery: number;
    }
  | {
      /**
       * Ends the training in progress early: 'upload' contributes the steps done so far (at least
       * one), 'discard' throws them away and uploads nothing. Handled at once, not queued.
       */
      id: number;
      type: 'stop';
      mode: StopMode;
    }
  | {
      /** One training step of a fresh model from a seed on synthetic images: a backend self-check. */
      id: number;
      /** Test builds only (VITE_STRIPES_TEST_HOOKS=1): one training step on random data, weights before and after. */
      type: 'checkStep';
      config: ModelConfig;
      seed: number;
      size: number;
      lr: number;
    };

export type StopMode = 'upload' | 'discard';

export type TrainerPhase = 'leasing' | 'downloading' | 'preparing' | 'training' | 'uploading' | 'committing';

export interface ContributeResult {
  /** The lease the contribution was committed under (to follow what became of it). */
  lease: string;
  round: number;
  baseVersion: number;
  steps: number;
  samples: number;
  losses: Record<string, number>;
  uploadedBytes: number;
  committed: number;
  quorum: { min: number; max: number };
  repeated: boolean;
}

export type TrainerReply =
  /** `threads`: the wasm backend's thread count, when it runs on wasm. */
  | { id: number; type: 'backend'; backend: BackendName | 'cpu'; attempts: BackendAttempt[]; threads?: number }
  | { id: number; type: 'phase'; phase: TrainerPhase; detail?: string }
  /** The answer to 'stop': whether a lease was training when it arrived. */
  | { id: number; type: 'stopping'; training: boolean }
  | { id: number; type: 'step'; step: number; of: number; losses: Record<string, number>; elapsedMs: number }
  | { id: number; type: 'preview'; step: number; realA: Pixels; fakeB: Pixels; recA: Pixels }
  | { id: number; type: 'upload'; sentBytes: number; totalBytes: number }
  | ({ id: number; type: 'contributed' } & ContributeResult)
  | { id: number; type: 'checked'; backend: BackendName | 'cpu'; losses: Record<string, number>; before: Record<string, Record<string, Float32Array>>; after: Record<string, Record<string, Float32Array>> }
  | { id: number; type: 'error'; message: string; status?: number; discarded?: boolean };

/** Where a distillation in the browser is (web/src/lib/distiller.worker.ts). */
export interface DistillSetupProgress {
  phase: 'downloading' | 'preparing';
  detail: string;
}

export interface DistillSetup {
  backend: BackendName | 'cpu';
  student: StudentConfig;
  /** MACs of one 256×256 translation, teacher and student. */
  teacherMacs: number;
  studentMacs: number;
  /** Whether the teacher's discriminators take part (the adversarial term). */
  adversarial: boolean;
  images: { A: number; B: number };
}

export interface DistillStepResult {
  step: number;
  /** The step's unweighted losses (shared/train/distill.ts: L1_AB, G_AB, D_B, …). */
  losses: Record<string, number>;
}

/**
 * The distiller worker's methods: `setup` downloads the pair's version (teacher generators and
 * discriminators, float32) and decodes the picked images; the page then calls `step` once per
 * iteration (so a Stop between two steps needs no special message) and `finish` to get the
 * version to publish: the same manifest with the students added as `variants.fast`, and the
 * students' new shards.
 */
export type DistillerMethods = {
  setup: {
    args: {
      manifest: CheckpointManifest;
      shardBase: string;
      images: { A: Blob[]; B: Blob[] };
      /** Planned iterations (the learning rate decays to 0 over them) and the crop side. */
      steps: number;
      cropSize: number;
      seed: number;
    };
    result: DistillSetup;
    progress: DistillSetupProgress;
  };
  step: { args: Record<string, never>; result: DistillStepResult };
  finish: { args: Record<string, never>; result: { manifest: CheckpointManifest; shards: Record<string, Uint8Array> } };
};
