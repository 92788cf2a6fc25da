/**
 * Which generator translates by default, Fast (the distilled student, `variants.fast`) or Best
 * (the pair's own generator), and how a software-rendered GPU is recognised. Pure: the worker
 * reads the adapter and renderer strings, the page decides with these.
 */

export type Quality = 'fast' | 'full';

/** Renderer, adapter or device strings of software rasterisers: SwiftShader, Mesa's llvmpipe, Microsoft's Basic Render Driver. */
const SOFTWARE = /swiftshader|llvmpipe|softpipe|lavapipe|software|basic render/i;

/** Whether a WebGL renderer string (UNMASKED_RENDERER_WEBGL, or RENDERER) names a software rasteriser. */
export function isSoftwareRenderer(renderer: string | null | undefined): boolean {
  return SOFTWARE.test(renderer ?? '');
}

/** What a WebGPU adapter says about itself (GPUAdapterInfo; `isFallbackAdapter` moved there from the adapter in 2024). */
export interface AdapterFacts {
  isFallbackAdapter?: boolean;
  info?: { isFallbackAdapter?: boolean; vendor?: string; architecture?: string; description?: string; device?: string };
}

/** Whether a WebGPU adapter is a software fallback (SwiftShader's Vulkan, a CPU adapter). */
export function isSoftwareAdapter(adapter: AdapterFacts): boolean {
  const info = adapter.info ?? {};
  return Boolean(adapter.isFallbackAdapter || info.isFallbackAdapter) || SOFTWARE.test(`${info.vendor} ${info.architecture} ${info.description} ${info.device}`);
}

/**
 * The quality to translate with when the user has not chosen: the student on WASM and on
 * software-rendered GPUs (CPU time is what the student's ≥10× fewer MACs save), the pair's own
 * generator on a real GPU, where it is fast enough already.
 */
export function defaultQuality(backend: string | null, softwareGpu = false): Quality {
  return backend === 'webgpu' || backend === 'webgl' ? (softwareGpu ? 'fast' : 'full') : 'fast';
}

/** Why the default is what it is, in a few words for the page. */
export function defaultReason(backend: string | null, softwareGpu = false): string {
  if (backend === 'webgpu' || backend === 'webgl') return softwareGpu ? 'the GPU here renders in software' : 'this device has a GPU';
  return 'no GPU is in use here (WebAssembly)';
}
