import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';
import { headersFile } from '../worker/security-headers.ts';

const root = fileURLToPath(new URL('.', import.meta.url));

// The web app builds into web/dist, which the worker serves as static assets. During
// `npm run dev:web` the API is proxied to a local `wrangler dev` on 127.0.0.1:8787.
export default defineConfig({
  root,
  base: '/',
  plugins: [
    svelte(),
    // Static assets never reach the worker, so their security headers (CSP, nosniff, Referrer-Policy)
    // go out through Workers Static Assets' `_headers` file, written from the worker's one list.
    { name: 'stripes-security-headers', generateBundle() { this.emitFile({ type: 'asset', fileName: '_headers', source: headersFile() }); } },
  ],
  // The translator is an ES module worker: it imports TF.js and the shared model.
  worker: { format: 'es' },
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
    proxy: { '/api': 'http://127.0.0.1:8787' },
  },
});
