/** Small display helpers shared by the pages. */

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function ms(t: number): string {
  return t < 1000 ? `${Math.round(t)} ms` : `${(t / 1000).toFixed(2)} s`;
}

export function date(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

export const BACKEND_LABEL = { webgpu: 'WebGPU', webgl: 'WebGL', wasm: 'WebAssembly (SIMD)' } as const;

/** A backend's label with the wasm thread count when it runs more than one: "WebAssembly (SIMD), 4 threads". */
export function backendLabel(backend: keyof typeof BACKEND_LABEL, threads: number | null = null): string {
  return backend === 'wasm' && threads !== null && threads > 1 ? `${BACKEND_LABEL.wasm}, ${threads} threads` : BACKEND_LABEL[backend];
}
