/**
 * Convolution gradient kernels for TF.js's 'wasm' backend, so networks can be trained on it.
 *
 * tfjs-backend-wasm 4.22 ships no `Conv2DBackpropFilter` kernel (every conv weight gradient throws
 * "Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'"), and its
 * `Conv2DBackpropInput` is a scalar C++ loop 2–27× slower than the replacement here (measured on
 * the full preset's layers at 64×64). Both are rebuilt on the backend's own fast XNNPACK kernels
 * (Conv2D, BatchMatMul), with the data movement in plain loops over the wasm heap (the backend's
 * generic StridedSlice, Reverse and DepthToSpace take longer than the matmuls they would feed):
 *
 * - weight gradient: dW = A · dy with A the channels-first im2col, each of whose rows is one
 *   memcpy from the input split into stride phases; one matmul per bounded chunk of rows;
 * - input gradient: the transposed convolution as one stride-1 conv of dy with the s×s phase
 *   filters stacked along output channels, then the phases interleaved (the sub-pixel form: no
 *   multiplications by inserted zeros).
 *
 * Only shared code of TF.js is imported and kernels are looked up when they run, so this module
 * neither loads nor picks a backend; the caller imports '@tensorflow/tfjs-backend-wasm'.
 */
import {
  backend_util,
  getKernel,
  registerKernel,
  unregisterKernel,
  type DataId,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

/** The part of tfjs-backend-wasm's BackendWasm that the kernels below use. */
interface WasmBackend {
  dataIdMap: { has(dataId: DataId): boolean };
  disposeData(dataId: DataId, force?: boolean): boolean;
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  /** A view of the tensor in the wasm heap; invalid once the heap grows (after any allocation). */
  typedArrayFromHeap(t: TensorInfo): Float32Array;
}

/** Most floats one im2col chunk may hold (32 MiB), so large images do not need a huge buffer. */
const IM2COL_CHUNK_FLOATS = 8 * 1024 * 1024;


type Pad4 = { top: number; bottom: number; left: number; right: number };

/** Calls another wasm kernel directly (no engine bookkeeping, so intermediates are ours to free). */
function call(
  backend: WasmBackend,
  name: string,
  inputs: Record<string, TensorInfo> | TensorInfo[],
  attrs: Record<string, unknown> = {},
): TensorInfo {
  const k = getKernel(name, 'wasm');
  if (!k) throw new Error(`wasm kernels: the wasm backend has no '${name}' kernel (is @tensorflow/tfjs-backend-wasm loaded?)`);
  const out = k.kernelFunc({ inputs: inputs as never, backend: backend as never, attrs: attrs as NamedAttrMap });
  if (Array.isArray(out)) throw new Error(`wasm kernels: '${name}' returned several outputs`);
  return out;
}

/** Runs `f` with a list that collects intermediates, and frees them whatever happens. */
function scoped<T>(backend: WasmBackend, f: (keep: (t: TensorInfo) => TensorInfo) => T): T {
  const made: TensorInfo[] = [];
  try {
    return f((t) => {
      made.push(t);
      return t;
    });
  } finally {
    for (const t of made) backend.disposeData(t.dataId);
  }
}

function convInfoOf(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  attrs: NamedAttrMap,
): backend_util.Conv2DInfo {
  const dataFormat = backend_util.convertConv2DDataFormat(attrs.dataFormat as 'NHWC' | 'NCHW');
  if (dataFormat !== 'channelsLast') throw new Error(`wasm kernels: only NHWC convolutions are supported, got ${attrs.dataFormat}`);
  return backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    attrs.strides as [number, number] | number,
    1,
    attrs.pad as never,
    attrs.dimRoundingMode as never,
    false,
    dataFormat,
  );
}

function padOf(info: backend_util.Conv2DInfo): Pad4 {
  const p = info.padInfo;
  return { top: p.top, bottom: p.bottom, left: p.left, right: p.right };
}

/**
 * dW[kh,kw,ci,co] = Σ_{n,oh,ow} xpad[n, oh·s+kh, ow·s+kw, ci] · dy[n,oh,ow,co] = (A · dy′)[(kh,kw,ci), co].
 *
 * Tap (kh,kw) = (a·s+rh, b·s+rw) reads stride phase (rh,rw) of the padded input at [oh+a, ow+b],
 * a stride-1 window. Each channel's phase plane is stored row-major with row width Wq = OW+B−1,
 * so the window is ONE contiguous run of OH·Wq values starting at a·Wq + b: a row of the
 * channels-first im2col A is a single memcpy. The run's wrap-around values (columns ow ≥ OW) meet
 * zero rows of dy′ (dy widened to Wq columns), so they add nothing. A is built in row chunks of
 * bounded size, one XNNPACK matmul per chunk.
 */
const conv2DBackpropFilter: KernelFunc = ({ inputs, backend: b, attrs = {} }) => {
  const backend = b as unknown as WasmBackend;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const filterShape = attrs.filterShape as [number, number, number, number];
  const info = convInfoOf(x.shape as [number, number, number, number], filterShape, attrs);
  const [KH, KW, Ci, Co] = filterShape;
  const { strideHeight: sh, strideWidth: sw, outHeight: OH, outWidth: OW, batchSize: N, inHeight: H, inWidth: W } = info;
  const pad = padOf(info);
  const Wq = OW + Math.ceil(KW / sw) - 1;
  const Hq = OH + Math.ceil(KH / sh); // one spare row: the last tap's run ends in row OH+A−1
  const phases = sh * sw;
  const plane = Hq * Wq; // one (channel, image, phase) plane
  const M = OH * Wq; // one image's run length
  return scoped(backend, (keep) => {
    const xt = keep(call(backend, 'Transpose', { x }, { perm: [3, 0, 1, 2] })); // [Ci, N, H, W]
    const planes = keep(backend.makeOutput([Ci * N * phases * plane], 'float32'));
    const dyw = keep(backend.makeOutput([1, N * M, Co], 'float32'));
    {
      // Views only after the allocations: an allocation may grow (and move) the heap.
      const xv = backend.typedArrayFromHeap(xt);
      const pv = backend.typedArrayFromHeap(planes);
      pv.fill(0);
      for (let c = 0; c < Ci * N; c++) {
        for (let rh = 0; rh < sh; rh++) {
          for (let rw = 0; rw < sw; rw++) {
            const dst0 = (c * phases + rh * sw + rw) * plane;
            // Columns qw whose input column w = qw·s + rw − left lies inside the image.
            const qw0 = Math.max(0, Math.ceil((pad.left - rw) / sw));
            const qw1 = Math.min(Wq, Math.floor((W - 1 + pad.left - rw) / sw) + 1);
            if (qw1 <= qw0) continue;
            for (let qh = 0; qh < Hq; qh++) {
              const h = qh * sh + rh - pad.top;
              if (h < 0 || h >= H) continue;
              const src = (c * H + h) * W + qw0 * sw + rw - pad.left;
              const dst = dst0 + qh * Wq + qw0;
              if (sw === 1) pv.set(xv.subarray(src, src + qw1 - qw0), dst);
              else for (let q = 0; q < qw1 - qw0; q++) pv[dst + q] = xv[src + q * sw];
            }
          }
        }
      }
      const dv = backend.typedArrayFromHeap(dy);
      const wv = backend.typedArrayFromHeap(dyw);
      wv.fill(0);
      for (let r = 0; r < N * OH; r++) wv.set(dv.subarray(r * OW * Co, (r + 1) * OW * Co), r * Wq * Co);
    }
    const rowsTotal = KH * KW * Ci;
    const chunk = Math.max(1, Math.floor(IM2COL_CHUNK_FLOATS / (N * M)));
    const parts: TensorInfo[] = [];
    for (let r0 = 0; r0 < rowsTotal; r0 += chunk) {
      const rows = Math.min(chunk, rowsTotal - r0);
      const a = keep(backend.makeOutput([1, rows, N * M], 'float32'));
      const av = backend.typedArrayFromHeap(a);
      const pv = backend.typedArrayFromHeap(planes);
      for (let r = r0; r < r0 + rows; r++) {
        const tap = Math.floor(r / Ci);
        const ci = r - tap * Ci;
        const kh = Math.floor(tap / KW);
        const kw = tap - kh * KW;
        const phase = (kh % sh) * sw + (kw % sw);
        const offset = Math.floor(kh / sh) * Wq + Math.floor(kw / sw);
        for (let n = 0; n < N; n++) {
          const src = ((ci * N + n) * phases + phase) * plane + offset;
          av.set(pv.subarray(src, src + M), ((r - r0) * N + n) * M);
        }
      }
      parts.push(keep(call(backend, 'BatchMatMul', { a, b: dyw }, { transposeA: false, transposeB: false })));
    }
    const all = parts.length === 1 ? parts[0] : keep(call(backend, 'Concat', parts, { axis: 1 }));
    // The reshape holds its own reference to `all`'s data, so freeing `all` afterwards is safe.
    return call(backend, 'Reshape', { x: all }, { shape: filterShape });
  });
};

/** G[u,v,co,(rh·s+rw)·Ci+ci] = W[(TH−1−u)·s+rh, (TW−1−v)·s+rw, ci, co], zero where the tap is past K. */
function buildPhaseFilter(backend: WasmBackend, filter: TensorInfo, s: number, TH: number, TW: number): TensorInfo {
  const [KH, KW, Ci, Co] = filter.shape;
  const S2 = s * s;
  const g = backend.makeOutput([TH, TW, Co, S2 * Ci], 'float32');
  const gv = backend.typedArrayFromHeap(g);
  const wv = backend.typedArrayFromHeap(filter);
  gv.fill(0);
  for (let u = 0; u < TH; u++) {
    for (let rh = 0; rh < s; rh++) {
      const kh = (TH - 1 - u) * s + rh;
      if (kh >= KH) continue;
      for (let v = 0; v < TW; v++) {
        for (let rw = 0; rw < s; rw++) {
          const kw = (TW - 1 - v) * s + rw;
          if (kw >= KW) continue;
          const gBase = (u * TW + v) * Co * S2 * Ci + (rh * s + rw) * Ci;
          const wBase = (kh * KW + kw) * Ci * Co;
          for (let ci = 0; ci < Ci; ci++) {
            for (let co = 0; co < Co; co++) gv[gBase + co * S2 * Ci + ci] = wv[wBase + ci * Co + co];
          }
        }
      }
    }
  }
  return g;
}

/**
 * Phase filters by the weight data they were built from. A generator's weights feed several
 * backward passes per step (G runs on real A, on F(b) and on real B), and XNNPACK keeps a packed
 * operator per filter tensor, so reusing the same phase-filter tensor skips both the rebuild and
 * the repacking. An entry dies with its weights (Adam's update replaces a variable's data).
 */
const phaseFilters = new Map<DataId, { backend: WasmBackend; key: string; g: TensorInfo }>();
const PHASE_FILTER_CACHE_SIZE = 256;

function phaseFilter(backend: WasmBackend, filter: TensorInfo, s: number, TH: number, TW: number): TensorInfo {
  for (const [id, e] of phaseFilters) {
    if (e.backend !== backend || !backend.dataIdMap.has(id)) {
      if (e.backend.dataIdMap.has(e.g.dataId)) e.backend.disposeData(e.g.dataId);
      phaseFilters.delete(id);
    }
  }
  const key = `${s},${TH},${TW},${filter.shape}`;
  const hit = phaseFilters.get(filter.dataId);
  if (hit && hit.key === key) return hit.g;
  if (hit) backend.disposeData(hit.g.dataId);
  const g = buildPhaseFilter(backend, filter, s, TH, TW);
  phaseFilters.delete(filter.dataId);
  phaseFilters.set(filter.dataId, { backend, key, g });
  if (phaseFilters.size > PHASE_FILTER_CACHE_SIZE) {
    const [oldest, e] = phaseFilters.entries().next().value!;
    backend.disposeData(e.g.dataId);
    phaseFilters.delete(oldest);
  }
  return g;
}

/**
 * dx as a transposed convolution in sub-pixel form. With i + top = q·s + r (0 ≤ r < s) and
 * T = ⌈K/s⌉ taps per phase: dx[i] = Σ_t dy[q−t] · W[t·s + r], a stride-1 correlation of dy with
 * the phase filter G_r[u] = W[(T−1−u)·s + r]. All s² phases are stacked as output channels of one
 * conv; interleaving puts phase r of q at q·s + r and drops the `top` offset.
 */
function conv2DBackpropInputFast(backend: WasmBackend, dy: TensorInfo, filter: TensorInfo, attrs: NamedAttrMap): TensorInfo | null {
  const inputShape = attrs.inputShape as [number, number, number, number];
  const filterShape = filter.shape as [number, number, number, number];
  const info = convInfoOf(inputShape, filterShape, attrs);
  const [KH, KW, Ci, Co] = filterShape;
  const { strideHeight: sh, strideWidth: sw, outHeight: OH, outWidth: OW, batchSize: N, inHeight: H, inWidth: W } = info;
  const pad = padOf(info);
  if (sh !== sw) return null; // the phase layout assumes one stride; unequal ones are left to the stock loop
  const s = sh;
  const TH = Math.ceil(KH / s);
  const TW = Math.ceil(KW / s);
  // Phase rows before q0 only feed the cropped-off top padding; skip computing them.
  const q0h = Math.floor(pad.top / s);
  const q0w = Math.floor(pad.left / s);
  const frontH = TH - 1 - q0h;
  const frontW = TW - 1 - q0w;
  if (frontH < 0 || frontW < 0) return null; // padding wider than the filter: leave it to the stock loop
  const Qh = Math.ceil((H + pad.top) / s);
  const Qw = Math.ceil((W + pad.left) / s);
  return scoped(backend, (keep) => {
    const g = phaseFilter(backend, filter, s, TH, TW);
    const z = keep(
      call(backend, 'Conv2D', { x: dy, filter: g }, {
        strides: [1, 1],
        dilations: [1, 1],
        pad: [[0, 0], [frontH, Math.max(0, Qh - q0h - OH - frontH + TH - 1)], [frontW, Math.max(0, Qw - q0w - OW - frontW + TW - 1)], [0, 0]],
        dataFormat: 'NHWC',
      }),
    );
    const offH = pad.top - q0h * s;
    const offW = pad.left - q0w * s;
    if (s === 1 && offH === 0 && offW === 0 && z.shape[1] === H && z.shape[2] === W) {
      return call(backend, 'Reshape', { x: z }, { shape: [N, H, W, Ci] });
    }
    // DepthToSpace(s) and the crop in one pass (the backend's DepthToSpace alone takes longer
    // than the conv): dx[n,i,j,:] = z[n, ⌊(i+offH)/s⌋, ⌊(j+offW)/s⌋, phase((i+offH) mod s, (j+offW) mod s)].
    const out = backend.makeOutput([N, H, W, Ci], 'float32');
    const ov = backend.typedArrayFromHeap(out);
    const zv = backend.typedArrayFromHeap(z);
    const [, Zh, Zw, Zc] = z.shape;
    let dst = 0;
    for (let n = 0; n < N; n++) {
      for (let i = 0; i < H; i++) {
        const qh = Math.floor((i + offH) / s);
        const rh = i + offH - qh * s;
        for (let j = 0; j < W; j++) {
          const qw = Math.floor((j + offW) / s);
          const rw = j + offW - qw * s;
          const src = ((n * Zh + qh) * Zw + qw) * Zc + (rh * s + rw) * Ci;
          ov.set(zv.subarray(src, src + Ci), dst);
          dst += Ci;
        }
      }
    }
    return out;
  });
}

/** A depthwise conv's geometry, from the backprop kernels' attributes. */
function depthwiseInfoOf(xShape: number[], filterShape: number[], attrs: NamedAttrMap): backend_util.Conv2DInfo {
  return backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as [number, number] | number,
    (attrs.dilations ?? 1) as [number, number] | number,
    attrs.pad as never,
    attrs.dimRoundingMode as never,
    true,
  );
}

/**
 * Calls `f(b, oh, ow, kh, kw, xOff, yOff, wOff)` for every (output pixel, tap) pair whose input
 * pixel lies inside the image: offsets of that input pixel, that output pixel and that tap (NHWC).
 */
function eachDepthwiseTap(
  info: backend_util.Conv2DInfo,
  f: (xOff: number, yOff: number, wOff: number) => void,
): void {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: Ci, outHeight: OH, outWidth: OW, outChannels: Co } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, filterHeight: KH, filterWidth: KW } = info;
  const { top, left } = info.padInfo;
  for (let b = 0; b < N; b++)
    for (let oh = 0; oh < OH; oh++)
      for (let kh = 0; kh < KH; kh++) {
        const ih = oh * sh - top + kh * dh;
        if (ih < 0 || ih >= H) continue;
        for (let ow = 0; ow < OW; ow++) {
          const yOff = ((b * OH + oh) * OW + ow) * Co;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * sw - left + kw * dw;
            if (iw < 0 || iw >= W) continue;
            f(((b * H + ih) * W + iw) * Ci, yOff, (kh * KW + kw) * Co);
          }
        }
      }
}

/**
 * tfjs-backend-wasm 4.22 runs depthwise convs forward (XNNPACK) but has neither of their
 * gradient kernels, so the student generator (shared/model/student.ts) could not train on wasm.
 * Both are direct loops over the heap: a depthwise conv does k·k multiply-adds per output value,
 * about 1/(cin) of a dense conv's, so there is no matmul to hand off to. Sums are kept in float64
 * and rounded once. Any stride, dilation, padding and channel multiplier (NHWC).
 *
 * dW[kh, kw, c, m] = Σ_{n, oh, ow} x[n, ih, iw, c] · dy[n, oh, ow, c·M + m].
 */
const depthwiseBackpropFilter: KernelFunc = ({ inputs, backend: b, attrs = {} }) => {
  const backend = b as unknown as WasmBackend;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const filterShape = attrs.filterShape as number[];
  const info = depthwiseInfoOf(x.shape, filterShape, attrs);
  const Co = info.outChannels;
  const M = Co / info.inChannels;
  const acc = new Float64Array(filterShape.reduce((a, c) => a * c, 1));
  const out = backend.makeOutput(filterShape, 'float32');
  const xv = backend.typedArrayFromHeap(x);
  const dyv = backend.typedArrayFromHeap(dy);
  if (M === 1) {
    eachDepthwiseTap(info, (xo, yo, wo) => {
      for (let c = 0; c < Co; c++) acc[wo + c] += xv[xo + c] * dyv[yo + c];
    });
  } else {
    eachDepthwiseTap(info, (xo, yo, wo) => {
      for (let d = 0; d < Co; d++) acc[wo + d] += xv[xo + Math.floor(d / M)] * dyv[yo + d];
    });
  }
  backend.typedArrayFromHeap(out).set(acc);
  return out;
};

/** dx[n, ih, iw, c] = Σ_{oh, ow, kh, kw, m} w[kh, kw, c, m] · dy[n, oh, ow, c·M + m] over the taps that read (ih, iw). */
const depthwiseBackpropInput: KernelFunc = ({ inputs, backend: b, attrs = {} }) => {
  const backend = b as unknown as WasmBackend;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const inputShape = attrs.inputShape as number[];
  const info = depthwiseInfoOf(inputShape, filter.shape, attrs);
  const Co = info.outChannels;
  const M = Co / info.inChannels;
  const acc = new Float64Array(inputShape.reduce((a, c) => a * c, 1));
  const out = backend.makeOutput(inputShape, 'float32');
  const wv = backend.typedArrayFromHeap(filter);
  const dyv = backend.typedArrayFromHeap(dy);
  if (M === 1) {
    eachDepthwiseTap(info, (xo, yo, wo) => {
      for (let c = 0; c < Co; c++) acc[xo + c] += wv[wo + c] * dyv[yo + c];
    });
  } else {
    eachDepthwiseTap(info, (xo, yo, wo) => {
      for (let d = 0; d < Co; d++) acc[xo + Math.floor(d / M)] += wv[wo + d] * dyv[yo + d];
    });
  }
  backend.typedArrayFromHeap(out).set(acc);
  return out;
};

let stockBackpropInput: KernelConfig | undefined;

const conv2DBackpropInput: KernelFunc = (args) => {
  const { inputs, backend, attrs = {} } = args;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const out = conv2DBackpropInputFast(backend as unknown as WasmBackend, dy, filter, attrs);
  if (out) return out;
  if (!stockBackpropInput) throw new Error('wasm kernels: no Conv2DBackpropInput to fall back on');
  return stockBackpropInput.kernelFunc(args);
};

/**
 * Registers the wasm `Conv2DBackpropFilter` and both depthwise-conv gradient kernels, and replaces the wasm `Conv2DBackpropInput`
 * with the fast one (the stock kernel stays as the fallback for unequal strides). Idempotent.
 * It does not load or select the wasm backend; call it after '@tensorflow/tfjs-backend-wasm' is
 * imported (the package registers its kernels on import, and would overwrite a replacement made
 * before), e.g. once before training: createCycleGAN and cli/tf-backend.ts's useBackend do.
 */
export function registerWasmTrainingKernels(): void {
  if (!getKernel('Conv2DBackpropFilter', 'wasm')) {
    registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: conv2DBackpropFilter });
  }
  if (!getKernel('DepthwiseConv2dNativeBackpropFilter', 'wasm'))
    registerKernel({ kernelName: 'DepthwiseConv2dNativeBackpropFilter', backendName: 'wasm', kernelFunc: depthwiseBackpropFilter });
  if (!getKernel('DepthwiseConv2dNativeBackpropInput', 'wasm'))
    registerKernel({ kernelName: 'DepthwiseConv2dNativeBackpropInput', backendName: 'wasm', kernelFunc: depthwiseBackpropInput });
  const current = getKernel('Conv2DBackpropInput', 'wasm');
  if (!current || current.kernelFunc === conv2DBackpropInput) return;
  stockBackpropInput = current;
  unregisterKernel('Conv2DBackpropInput', 'wasm');
  // The stock kernel's setup (its cwrap) must still run if the backend initialises after this.
  registerKernel({
    kernelName: 'Conv2DBackpropInput',
    backendName: 'wasm',
    kernelFunc: conv2DBackpropInput,
    setupFunc: current.setupFunc,
  });
}

/** The kernels themselves, for tests that compare them with the stock ones. */
export const wasmTrainingKernels = { conv2DBackpropFilter, conv2DBackpropInput, depthwiseBackpropFilter, depthwiseBackpropInput };

/** Frees the cached phase filters (they are otherwise freed lazily, on the next input-gradient call after their weights die). */
export function clearWasmKernelCaches(): void {
  for (const e of phaseFilters.values()) if (e.backend.dataIdMap.has(e.g.dataId)) e.backend.disposeData(e.g.dataId);
  phaseFilters.clear();
}
