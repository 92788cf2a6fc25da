/// <reference types="vite/client" />
/**
 * The bench harness's worker: the project's own generator code (shared/model) on the app's own
 * backend setup (web/src/lib/backend.ts: the same wasm builds, thread count and pthread files),
 * for the distilled `fast` student. One forward
 * pass per `run`, timed like the app's translator: forward pass and read-back.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GeneratorConfig } from '../../shared/model/config.ts';
import { generator } from '../../shared/model/generator.ts';
import type { StudentConfig } from '../../shared/model/student-config.ts';
import { mobileGenerator } from '../../shared/model/student.ts';
import { selectBackend } from '../../web/src/lib/backend.ts';

let params: Record<string, tf.Tensor> = {};
let forward: ((x: tf.Tensor4D) => tf.Tensor4D) | null = null;

type Request =
  | { type: 'setup'; threads: number; arch: 'resnet' | 'mobile'; config: GeneratorConfig | StudentConfig; params: Record<string, { data: Float32Array; shape: number[] }> }
  /** `input`: NHWC floats in [-1, 1]. */
  | { type: 'run'; side: number; input: Float32Array; want: boolean };

self.onmessage = async (e: MessageEvent<Request>) => {
  const m = e.data;
  try {
    if (m.type === 'setup') {
      const chosen = await selectBackend('wasm', { threads: m.threads });
      params = Object.fromEntries(Object.entries(m.params).map(([k, v]) => [k, tf.tensor(v.data, v.shape, 'float32')]));
      const cfg = m.config;
      forward = m.arch === 'mobile' ? (x) => mobileGenerator(params, cfg as StudentConfig, x) : (x) => generator(params, cfg as GeneratorConfig, x);
      self.postMessage({ backend: chosen.backend, threads: chosen.threads });
    } else {
      if (!forward) throw new Error('setup first');
      const t0 = performance.now();
      const y = tf.tidy(() => forward!(tf.tensor4d(m.input, [1, m.side, m.side, 3])));
      const out = (await y.data()) as Float32Array;
      const ms = performance.now() - t0;
      y.dispose();
      self.postMessage({ ms, out: m.want ? out : undefined });
    }
  } catch (err) {
    self.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
};
