/**
 * Picks the TF.js backend for Node entry points (CLI, tests, training, bench). The model code in
 * shared/ never does this: whoever runs it chooses.
 *
 * The wasm backend loads its .wasm binaries from the installed package's dist/ folder on disk,
 * found through module resolution so it works from any working directory and never downloads.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { registerWasmTrainingKernels } from '../shared/tfjs/wasm-kernels.ts';

export type NodeBackend = 'wasm' | 'cpu';
export const NODE_BACKENDS: readonly NodeBackend[] = ['wasm', 'cpu'];

export function isNodeBackend(s: string): s is NodeBackend {
  return (NODE_BACKENDS as readonly string[]).includes(s);
}

/** The folder holding tfjs-backend-wasm's .wasm files, with a trailing slash (as setWasmPaths wants). */
export function wasmBinariesDir(): string {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve('@tensorflow/tfjs-backend-wasm/package.json');
  return join(dirname(pkg), 'dist') + '/';
}

let wasmPathsSet = false;

/**
 * Registers TF.js's gradient functions, which `@tensorflow/tfjs-core` alone does not (without
 * them every tf.grad throws "gradient function not found"). In Node, tfjs-core's gradient
 * modules ship only as extensionless ESM that Node cannot load, so the CommonJS bundle of the
 * `@tensorflow/tfjs` union package registers them, into the same global registry tfjs-core
 * reads. Browsers (Vite) import '@tensorflow/tfjs-core/dist/register_all_gradients' instead.
 */
export async function ensureGradients(): Promise<void> {
  if (tf.getGradient('Sum') !== undefined) return;
  createRequire(import.meta.url)('@tensorflow/tfjs');
  if (tf.getGradient('Sum') === undefined) throw new Error('TF.js gradients could not be registered');
}

/**
 * Registers (once) and activates a backend, with gradients available (on wasm including the
 * conv gradient kernels of shared/tfjs/wasm-kernels.ts); resolves to the active backend's name.
 */
export async function useBackend(name: NodeBackend): Promise<string> {
  if (!isNodeBackend(name)) throw new Error(`backend must be one of ${NODE_BACKENDS.join(', ')}, got ${JSON.stringify(name)}`);
  await ensureGradients();
  if (name === 'cpu') {
    await import('@tensorflow/tfjs-backend-cpu');
  } else {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter: without this no conv weight can be
    // trained on wasm. Registered before the backend initialises so the kernels' setup runs.
    registerWasmTrainingKernels();
    if (!wasmPathsSet) {
      // Emscripten in Node reads the binary with fs when given a plain path; a file:// URL would
      // send it to fetch. Keep the path form.
      wasm.setWasmPaths(wasmBinariesDir());
      wasmPathsSet = true;
    }
  }
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`TF.js backend "${name}" failed to initialise`);
  await tf.ready();
  // The cpu backend prints a multi-line "install tfjs-node" banner on first use; tfjs-node cannot
  // install here and the CLI chose this backend on purpose, so mark the banner as shown.
  const backend = tf.backend() as unknown as { firstUse?: boolean };
  if (name === 'cpu' && backend.firstUse) backend.firstUse = false;
  return tf.getBackend();
}
