/**
 * Picks the TF.js backend by trying them, fastest first: WebGPU, then WebGL, then WASM.
 * Runs inside the translator worker, the only place that owns TF.js in the browser.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu';
import '@tensorflow/tfjs-backend-webgl';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import { BACKENDS, type BackendAttempt, type BackendChoice, type BackendName } from './messages.ts';
import { isSoftwareAdapter, isSoftwareRenderer, type AdapterFacts } from './quality.ts';

// The .wasm binaries ship as the build's own assets, so nothing is fetched from a CDN. The
// threaded build is left out: its pthread glue breaks in a minified bundle, and it needs
// cross-origin isolation the app does not ask for. setWasmPaths insists on an entry for it, so
// it names the SIMD binary, which is never loaded under that name with threads off.
setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmUrl,
  'tfjs-backend-wasm-simd.wasm': wasmSimdUrl,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmSimdUrl,
});
tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);

/** Initialises one backend and proves it computes, or throws why not. */
async function tryBackend(name: BackendName): Promise<void> {
  // TF.js's WebGPU backend logs an error and a TypeError to the console when there is no
  // adapter; asking for one first turns that into a quiet reason in the skipped list.
  if (name === 'webgpu') {
    const gpu = (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
    if (!gpu) throw new Error('this browser has no WebGPU');
    const adapter = await gpu.requestAdapter().catch(() => null);
    if (!adapter) throw new Error('no WebGPU adapter here (no supported GPU, or WebGPU is turned off)');
  }
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`${name} is not available in this browser`);
  await tf.ready();
  // Some backends initialise and then fail on the first kernel (a lost context, no adapter).
  const probe = tf.tidy(() => tf.add(tf.tensor1d([1, 2]), tf.scalar(1)));
  const vals = await probe.data();
  probe.dispose();
  if (vals[0] !== 2 || vals[1] !== 3) throw new Error(`${name} computed 1+1 wrongly`);
}

/**
 * Why a GPU backend here would run on a software rasteriser (SwiftShader, llvmpipe), or null when
 * it would not. Software WebGPU and WebGL are correct but about 100× slower than WASM, so `auto`
 * skips them; forcing one still runs it.
 */
export async function softwareGpu(name: BackendName): Promise<string | null> {
  if (name === 'webgpu') {
    const gpu = (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
    const adapter = (await gpu?.requestAdapter().catch(() => null)) as AdapterFacts | null | undefined;
    if (!adapter) return null; // tryBackend says why it cannot start
    const info = adapter.info ?? {};
    if (isSoftwareAdapter(adapter))
      return `the WebGPU adapter is a software fallback (${info.architecture || info.description || 'no GPU'}); WASM is faster here`;
    return null;
  }
  if (name === 'webgl') {
    const gl = new OffscreenCanvas(1, 1).getContext('webgl2') ?? new OffscreenCanvas(1, 1).getContext('webgl');
    if (!gl) return null;
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    const renderer = String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
    gl.getExtension('WEBGL_lose_context')?.loseContext();
    return isSoftwareRenderer(renderer) ? `WebGL renders in software (${renderer}); WASM is faster here` : null;
  }
  return null;
}

/**
 * Switches to the chosen backend, or the first one that works for `auto`. A forced backend
 * that fails is an error rather than a silent fallback, so the user sees what they asked for.
 */
export async function selectBackend(choice: BackendChoice): Promise<{ backend: BackendName; attempts: BackendAttempt[] }> {
  const order = choice === 'auto' ? [...BACKENDS] : [choice];
  const attempts: BackendAttempt[] = [];
  for (const name of order) {
    try {
      if (choice === 'auto') {
        const software = await softwareGpu(name);
        if (software) throw new Error(software);
      }
      await tryBackend(name);
      attempts.push({ backend: name });
      return { backend: name, attempts };
    } catch (e) {
      attempts.push({ backend: name, error: e instanceof Error ? e.message : String(e) });
    }
  }
  const why = attempts.map((a) => `${a.backend}: ${a.error}`).join('; ');
  throw new Error(`no TF.js backend could start (${why})`);
}
