/**
 * Picks the TF.js backend by trying them, fastest first: WebGPU, then WebGL, then WASM.
 * Runs inside the translator worker, the only place that owns TF.js in the browser.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu';
import '@tensorflow/tfjs-backend-webgl';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { BACKENDS, MAX_WASM_THREADS, type BackendAttempt, type BackendChoice, type BackendName } from './messages.ts';
import { isSoftwareAdapter, isSoftwareRenderer, type AdapterFacts } from './quality.ts';

// The .wasm binaries ship as the build's own assets, so nothing is fetched from a CDN. The
// threaded SIMD build needs SharedArrayBuffer, which a browser gives only a cross-origin isolated
// page (the server sends COOP same-origin + COEP require-corp: worker/security-headers.ts); its
// pthread workers start from the package's own scripts, shipped as files (web/vite.config.ts).
setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmUrl,
  'tfjs-backend-wasm-simd.wasm': wasmSimdUrl,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimdUrl,
});

/** Whether this context may run wasm threads: cross-origin isolated, with SharedArrayBuffer. */
export function wasmThreadsAvailable(): boolean {
  return (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true && typeof SharedArrayBuffer === 'function';
}

/**
 * The wasm backend's thread count for a request of `requested` threads (the page sends its
 * core count, or a stored override): clamped to 1..MAX_WASM_THREADS, and 1 where threads are
 * unavailable (not cross-origin isolated).
 */
export function wasmThreadCount(requested: number | undefined): number {
  if (!wasmThreadsAvailable()) return 1;
  const want = requested !== undefined && Number.isInteger(requested) && requested >= 1 ? requested : (globalThis.navigator?.hardwareConcurrency ?? 1);
  return Math.max(1, Math.min(MAX_WASM_THREADS, want));
}

/** The count fixed for this worker (the wasm module starts once per worker), or null before. */
let wasmThreadsFixed: number | null = null;

/**
 * Fixes the wasm backend's thread count before it first initialises; later calls keep the
 * first count. One thread loads the plain SIMD build (no pthread workers at all): measured
 * faster than the threaded build run on one thread (README, "Threads in the browser").
 */
function configureWasmThreads(requested: number | undefined): void {
  if (wasmThreadsFixed !== null) return;
  wasmThreadsFixed = wasmThreadCount(requested);
  if (wasmThreadsFixed > 1) setThreadsCount(wasmThreadsFixed);
  else tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
}

/**
 * Set once this worker's wasm heap cannot be trusted (a WebAssembly trap, or the test hook that
 * imitates an out-of-memory): from then on nothing enters the heap again, and the worker only
 * reports the failure so the page can terminate it and start a fresh one.
 *
 * Why: tensors are disposed while an error unwinds (tf.tidy's scope, the tiled generator's
 * `finally`), and a dispose calls the heap's `free`. In the threaded build the allocator takes a
 * lock, a futex word in the heap; after a trap that word may be held by the trapped call or be
 * garbage, and `free` then waits on it forever (Atomics.wait: the worker idles and never answers).
 * The single-threaded build has no lock, which is why this only showed up with threads.
 */
let wasmPoisoned = false;

/** Marks the wasm heap as unusable (see wasmPoisoned). */
export function poisonWasm(): void {
  wasmPoisoned = true;
}

interface WasmModuleHandles {
  _malloc(size: number): number;
  _free(ptr: number): void;
  tfjs: { disposeData(id: number): void };
}

let wasmGuarded = false;

/**
 * Installs the guard of `wasmPoisoned` once the wasm backend has started: any kernel that traps
 * poisons the heap before tf.tidy's cleanup runs; afterwards frees are skipped (the worker is
 * about to be replaced, leaking is harmless) and allocations and kernels refuse to start.
 */
function guardWasmHeap(): void {
  if (wasmGuarded) return;
  wasmGuarded = true;
  const m = (tf.findBackend('wasm') as unknown as { wasm: WasmModuleHandles }).wasm;
  const { _malloc: malloc, _free: free } = m;
  const disposeData = m.tfjs.disposeData;
  const unusable = () => new WebAssembly.RuntimeError('Aborted(the wasm heap is unusable after an earlier failure)');
  m._malloc = (size) => {
    if (wasmPoisoned) throw unusable();
    return malloc(size);
  };
  m._free = (ptr) => {
    if (!wasmPoisoned) free(ptr);
  };
  m.tfjs.disposeData = (id) => {
    if (!wasmPoisoned) disposeData(id);
  };
  const engine = tf.engine();
  const runKernel = engine.runKernel.bind(engine);
  engine.runKernel = ((...args: Parameters<typeof runKernel>) => {
    if (wasmPoisoned && engine.backendName === 'wasm') throw unusable();
    try {
      return runKernel(...args);
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError && engine.backendName === 'wasm') wasmPoisoned = true;
      throw e;
    }
  }) as typeof engine.runKernel;
}

/** Threads the wasm backend runs (once it has started), else null. */
export function wasmThreads(): number | null {
  try {
    return getThreadsCount();
  } catch {
    return null;
  }
}

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
export async function selectBackend(
  choice: BackendChoice,
  opts: { threads?: number } = {},
): Promise<{ backend: BackendName; attempts: BackendAttempt[]; threads?: number }> {
  configureWasmThreads(opts.threads);
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
      if (name !== 'wasm') return { backend: name, attempts };
      guardWasmHeap();
      const threads = wasmThreads() ?? 1;
      console.info(`[stripes] wasm backend: ${threads} thread${threads === 1 ? '' : 's'} (${threads > 1 ? 'threaded SIMD' : 'SIMD'} build)`);
      return { backend: name, attempts, threads };
    } catch (e) {
      attempts.push({ backend: name, error: e instanceof Error ? e.message : String(e) });
    }
  }
  const why = attempts.map((a) => `${a.backend}: ${a.error}`).join('; ');
  throw new Error(`no TF.js backend could start (${why})`);
}
