/**
 * The messages between the page and the translator Web Worker, in one union both sides import.
 * Every request carries an id; every reply echoes it, so replies are matched to requests by id.
 */
import type { Direction } from '../../../shared/model/config.ts';
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
    }
  | { id: number; type: 'translate'; modelKey: string; direction: Direction; image: Pixels };

export interface LoadResult {
  variant: 'float16' | 'float32';
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
