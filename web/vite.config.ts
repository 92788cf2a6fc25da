import { defineConfig, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { headersFile, ISOLATION_HEADERS } from '../worker/security-headers.ts';

const root = fileURLToPath(new URL('.', import.meta.url));
const require = createRequire(import.meta.url);

/**
 * tfjs-backend-wasm's threaded SIMD build (4.22), made to run from the production bundle.
 *
 * Out of the box its Emscripten glue starts each pthread worker from two Blobs: the worker
 * script, and the glue's factory as *source text* (`factory.toString()`), which the pthread
 * imports with `importScripts(blob:…)`. Both break here:
 *  - bundled and minified, that source text names things the bundle renamed or hoisted out of
 *    the function, so every pthread dies on load;
 *  - the app's CSP (worker/security-headers.ts) allows scripts from 'self' only, so
 *    `importScripts(blob:…)` is refused.
 * A pthread that never loads is a hang, not an error: the glue resolves its module only once all
 * 8 pre-started pthread workers have said "loaded", so the backend's init (and every translation
 * waiting on it) waits forever with the CPU idle.
 *
 * So the build ships both as plain same-origin files, byte for byte the package's own (not
 * minified), and the glue is pointed at them instead of Blobs: the pthread worker script as
 * `assets/tfjs-pthread-worker-<hash>.js` and the factory as `assets/tfjs-pthread-main-<hash>.js`.
 *
 * One more change, to the glue's core count (in the bundled copy and the shipped one alike): its
 * C++ takes half of `emscripten_num_logical_cores()` (navigator.hardwareConcurrency) as the cores
 * (assuming two hyperthreads each) and caps `setThreadsCount` there: one thread on a 2-core
 * machine, whatever the app asks. It now answers 2 × the pthread pool size, so the C++ cap is the
 * pool (8 threads) and how many threads run is exactly what web/src/lib/backend.ts passes to
 * `setThreadsCount` (one per core, at most the pool: a thread beyond the pool would need a new
 * worker to load while XNNPACK's pool creation blocks waiting for it, a deadlock).
 *
 * The build fails if the package no longer has the expected shape (a new tfjs-backend-wasm).
 */
const WASM_DIR = fileURLToPath(new URL('../node_modules/@tensorflow/tfjs-backend-wasm/', import.meta.url));
/** The pthread workers the glue pre-starts (its `pthreadPoolSize`). */
export const WASM_PTHREAD_POOL = 8;

function replaceOnce(src: string, find: string, by: string, what: string): string {
  if (src.split(find).length !== 2) throw new Error(`stripes:wasm-threads: ${what} no longer matches (a new tfjs-backend-wasm?)`);
  return src.replace(find, () => by);
}

function patchCores(glue: string, what: string): string {
  glue = replaceOnce(glue, 'var pthreadPoolSize=8;', `var pthreadPoolSize=${WASM_PTHREAD_POOL};`, `${what} (pool size)`);
  return replaceOnce(glue, 'return navigator["hardwareConcurrency"]}', `return ${2 * WASM_PTHREAD_POOL}}`, `${what} (core count)`);
}

function asset(name: string, source: string) {
  const hash = createHash('sha256').update(source).digest('base64url').slice(0, 10);
  return { fileName: `assets/${name}-${hash}.js`, source };
}

function wasmThreadAssets() {
  const glue = readFileSync(`${WASM_DIR}wasm-out/tfjs-backend-wasm-threaded-simd.js`, 'utf8');
  const { wasmWorkerContents } = require('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js') as { wasmWorkerContents: string };
  // What tfjs put in its Blob: the template literal turned the script's "\n" escapes into newlines.
  const worker = asset('tfjs-pthread-worker', wasmWorkerContents.replace(/\n/g, '\\n'));
  const main = asset('tfjs-pthread-main', patchCores(glue, 'the threaded glue'));
  return { worker, main };
}

/** Worker-bundle half: the glue and its loader, pointed at the shipped files (under the build's base). */
function wasmThreads(): Plugin {
  const { worker, main } = wasmThreadAssets();
  let base = '/';
  const url = (f: { fileName: string }) => `new URL(${JSON.stringify(base + f.fileName)}, self.location.href).href`;
  return {
    name: 'stripes:wasm-threads',
    apply: 'build',
    configResolved(config) {
      base = config.base;
    },
    transform(code, id) {
      const file = id.split('?')[0].replace(/\\/g, '/');
      if (file.endsWith('/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js')) return { code: patchCores(code, file), map: null };
      if (!file.endsWith('/tfjs-backend-wasm/dist/backend_wasm.js')) return null;
      code = replaceOnce(
        code,
        "const response = wasmWorkerContents.replace(/\\n/g, '\\\\n');\n                const blob = new Blob([response], { type: 'application/javascript' });\n                return URL.createObjectURL(blob);",
        `return ${url(worker)};`,
        `${file} (pthread worker)`,
      );
      code = replaceOnce(
        code,
        "factoryConfig.mainScriptUrlOrBlob = new Blob([`var WasmBackendModuleThreadedSimd = ` +\n                    wasmFactoryThreadedSimd.toString()], { type: 'text/javascript' });",
        `factoryConfig.mainScriptUrlOrBlob = ${url(main)};`,
        `${file} (pthread main script)`,
      );
      return { code, map: null };
    },
  };
}

// The web app builds into web/dist, which the worker serves as static assets. During
// `npm run dev:web` the API is proxied to a local `wrangler dev` on 127.0.0.1:8787.
export default defineConfig(({ command }) => ({
  root,
  base: '/',
  plugins: [
    svelte(),
    // Static assets never reach the worker, so their security headers (CSP, nosniff, Referrer-Policy,
    // cross-origin isolation) go out through Workers Static Assets' `_headers` file, written from
    // the worker's one list.
    { name: 'stripes-security-headers', generateBundle() { this.emitFile({ type: 'asset', fileName: '_headers', source: headersFile() }); } },
    // The threaded wasm build's pthread scripts, as files (see wasmThreads).
    {
      name: 'stripes:wasm-thread-assets',
      apply: 'build',
      generateBundle() {
        const { worker, main } = wasmThreadAssets();
        for (const f of [worker, main]) this.emitFile({ type: 'asset', ...f });
      },
    },
  ],
  // The translator and the trainer are ES module workers: they import TF.js and the shared model.
  worker: { format: 'es', plugins: () => (command === 'build' ? [wasmThreads()] : []) },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The .wasm files ship as hashed assets beside the bundle, never inlined, never from a CDN.
    assetsInlineLimit: (file) => (file.endsWith('.wasm') ? false : undefined),
    chunkSizeWarningLimit: 4096,
  },
  server: {
    host: '127.0.0.1',
    // Cross-origin isolated in development too, so the wasm backend runs threaded there as well
    // (unbundled, the package's own Blob-based pthread start works: no CSP on the dev server).
    headers: ISOLATION_HEADERS,
    proxy: { '/api': 'http://127.0.0.1:8787' },
  },
}));
