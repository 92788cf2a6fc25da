/**
 * Security headers, all in one place. The API's responses get theirs from the app's middleware
 * (worker/app.ts); the web app's static files never reach the worker (wrangler.toml runs it first
 * only for /api), so theirs go out through a Workers Static Assets `_headers` file that the web
 * build writes from `headersFile()` (web/vite.config.ts).
 *
 * Cross-origin isolation lives here too. COOP same-origin + COEP require-corp on the pages make
 * `crossOriginIsolated` true, which is what gives the page and its workers SharedArrayBuffer, so
 * TF.js's wasm backend can run its threaded SIMD build (docs/architecture.md, "Threads in the
 * browser"). Under require-corp a page may load only same-origin resources and cross-origin ones
 * that opt in with CORP or CORS. The app loads nothing cross-origin (no CDN, no third-party fonts);
 * camera frames, blob:/data: URLs, downloads and the Cache API are unaffected. The app's own files
 * say CORP same-origin; the API's answers (manifests, shards, sample images) say CORP cross-origin,
 * since the API is public and readable from other origins (CORS `*` in worker/app.ts).
 */

/** Every response, API or static: browsers must not guess a type other than the one sent. */
export const COMMON_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'strict-origin-when-cross-origin',
};

/**
 * The web app's pages. No inline script (Vite emits external modules only) and no eval, except
 * WebAssembly compilation for TF.js's wasm backend; TF.js and the trainer run in module workers
 * from this origin (or blob: URLs); images may be blob:/data: (decoded and translated locally,
 * the favicon); fetches go to this origin only. Svelte sets a few inline `style` attributes, so
 * inline styles are allowed (styles cannot run script). No framing, no plugins, no <base>
 * hijack, forms post nowhere else.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self' blob:",
  "img-src 'self' blob: data:",
  "style-src 'self' 'unsafe-inline'",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Cross-origin isolation for the pages and every file of the app (its scripts, workers, wasm). */
export const ISOLATION_HEADERS: Record<string, string> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export const PAGE_HEADERS: Record<string, string> = {
  ...COMMON_HEADERS,
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  ...ISOLATION_HEADERS,
};

/** API responses are data, never documents: nothing in them may run or be framed. */
export const API_HEADERS: Record<string, string> = {
  ...COMMON_HEADERS,
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  // Public data: an isolated page on any origin may embed it (same-origin pages never need this).
  'Cross-Origin-Resource-Policy': 'cross-origin',
};

/**
 * The `_headers` file for the static assets
 * (https://developers.cloudflare.com/workers/static-assets/headers/). Every asset gets the page
 * headers: the HTML needs them, and the CSP of a worker script governs that worker.
 */
export function headersFile(): string {
  const lines = ['# Written by the web build from worker/security-headers.ts; edit that file, not this one.', '/*'];
  for (const [k, v] of Object.entries(PAGE_HEADERS)) lines.push(`  ${k}: ${v}`);
  return lines.join('\n') + '\n';
}
