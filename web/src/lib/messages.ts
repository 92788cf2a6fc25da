/**
 * The messages between the page and the translator Web Worker, in one union both sides import.
 * Every request carries an id; every reply echoes it, so replies are matched to requests by id.
 */
import type { Direction, ModelConfig } from '../../../shared/model/config.ts';
import type { CheckpointManifest } from '../../../shared/weights/format.ts';

/** TF.js backends in the order they are tried: fastest first. */
export const BACKENDS = ['webgpu', 'webgl', 'wasm'] as const;
export type BackendName = (typeof BACKENDS)[number];
export type BackendChoice = BackendName | 'auto';

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

export type TranslatorRequest =
  | { id: number; type: 'setBackend'; choice: BackendChoice }
  | {
      id: number;
      type: 'load';
      /** Identifies the weights (pair and version): a new key drops the previous model. */
      modelKey: string;
      manifest: CheckpointManifest;
      direction: Direction;
      /** Absolute URL prefix a shard's hash is appended to. */
      shardBase: string;
      /** `fast`: the distilled student where the version has one; `full` (default): the pair's generator. */
      quality?: Quality;
    }
  | { id: number; type: 'translate'; modelKey: string; direction: Direction; image: Pixels; quality?: Quality };

/** Which generator translates: the distilled student (`fast`) or the pair's own (`full`, shown as "Best"). */
export type Quality = 'fast' | 'full';

export interface LoadResult {
  /** `fast`: the distilled student (float16); otherwise the pair's generator in this precision. */
  variant: 'fast' | 'float16' | 'float32';
  totalBytes: number;
  /** Bytes that came over the network; 0 on a warm cache. */
  networkBytes: number;
  shardsFetched: number;
  shardsCached: number;
}

export interface TranslateResult {
  image: Pixels;
  backend: BackendName;
  /** Time of the forward pass plus reading the pixels back, warm-up excluded. */
  ms: number;
  /** Whether this call compiled the model for a new size first. */
  warmedUp: boolean;
  /** Tensors alive after the translation: stays flat when nothing leaks. */
  numTensors: number;
}

export type TranslatorReply =
  | { id: number; type: 'backend'; backend: BackendName; attempts: BackendAttempt[] }
  | { id: number; type: 'progress'; loadedBytes: number; totalBytes: number; networkBytes: number }
  | ({ id: number; type: 'loaded' } & LoadResult)
  | ({ id: number; type: 'translated' } & TranslateResult)
  | { id: number; type: 'error'; message: string };

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
  | { id: number; type: 'setBackend'; choice: BackendChoice | 'cpu' }
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
      /** One training step of a fresh model from a seed on synthetic images: a backend self-check. */
      id: number;
      type: 'checkStep';
      config: ModelConfig;
      seed: number;
      size: number;
      lr: number;
    };

export type TrainerPhase = 'leasing' | 'downloading' | 'preparing' | 'training' | 'uploading' | 'committing';

export interface ContributeResult {
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
  | { id: number; type: 'backend'; backend: BackendName | 'cpu'; attempts: BackendAttempt[] }
  | { id: number; type: 'phase'; phase: TrainerPhase; detail?: string }
  | { id: number; type: 'step'; step: number; of: number; losses: Record<string, number>; elapsedMs: number }
  | { id: number; type: 'preview'; step: number; realA: Pixels; fakeB: Pixels; recA: Pixels }
  | { id: number; type: 'upload'; sentBytes: number; totalBytes: number }
  | ({ id: number; type: 'contributed' } & ContributeResult)
  | { id: number; type: 'checked'; backend: BackendName | 'cpu'; losses: Record<string, number>; before: Record<string, Record<string, Float32Array>>; after: Record<string, Record<string, Float32Array>> }
  | { id: number; type: 'error'; message: string; status?: number };
