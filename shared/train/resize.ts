/**
 * Bicubic resize that reproduces Pillow's `Image.resize(size, Image.BICUBIC)` on 8-bit RGB.
 *
 * The reference trainer (junyanz `data/base_dataset.py`, `transforms.Resize` on a PIL image)
 * resizes with Pillow, so matching its pixels keeps our training data the reference's. This is a
 * port of Pillow's `libImaging/Resample.c`: a separable convolution with the Keys cubic (a = -0.5)
 * whose support widens by the scale factor when shrinking (so downsampling antialiases), weights
 * normalised per output pixel and rounded to 22-bit fixed point, a horizontal pass then a vertical
 * pass, each rounded and clamped to 8 bits.
 */

/** Pillow's fixed-point precision for 8-bit images: 32 - 8 - 2 bits. */
const PRECISION_BITS = 22;
const ONE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1);

function bicubic(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

interface Coeffs {
  ksize: number;
  /** Per output pixel: first input index and the number of taps. */
  bounds: Int32Array;
  /** Fixed-point weights, `ksize` per output pixel. */
  k: Float64Array;
}

function precompute(inSize: number, outSize: number): Coeffs {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 2 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const k = new Float64Array(outSize * ksize);
  const w = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    // Pillow rounds with a C cast of (v + 0.5), which truncates toward zero.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      w[x] = bicubic((x + xmin - center + 0.5) * ss);
      ww += w[x];
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? w[x] / ww : w[x];
      k[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, k };
}

function clip8(v: number): number {
  if (v >= ONE * 256) return 255;
  if (v <= 0) return 0;
  return Math.floor(v / ONE);
}

/**
 * Resizes packed RGB (`width * height * 3` bytes, row-major) to `outW × outH`, as Pillow's
 * BICUBIC would. Returns a new buffer.
 */
export function resizeBicubicRGB(src: Uint8Array, width: number, height: number, outW: number, outH: number): Uint8Array {
  if (src.length !== width * height * 3) throw new Error(`resize: expected ${width * height * 3} bytes for ${width}×${height} RGB, got ${src.length}`);
  if (!(outW > 0 && outH > 0 && Number.isInteger(outW) && Number.isInteger(outH)))
    throw new Error(`resize: output size must be positive integers, got ${outW}×${outH}`);
  let img = src;
  let w = width;
  if (outW !== width) {
    const c = precompute(width, outW);
    const out = new Uint8Array(outW * height * 3);
    for (let y = 0; y < height; y++) {
      const row = y * width * 3;
      for (let xx = 0; xx < outW; xx++) {
        const xmin = c.bounds[xx * 2];
        const n = c.bounds[xx * 2 + 1];
        const kb = xx * c.ksize;
        let r = HALF, g = HALF, b = HALF;
        for (let x = 0; x < n; x++) {
          const kv = c.k[kb + x];
          const p = row + (xmin + x) * 3;
          r += img[p] * kv;
          g += img[p + 1] * kv;
          b += img[p + 2] * kv;
        }
        const o = (y * outW + xx) * 3;
        out[o] = clip8(r);
        out[o + 1] = clip8(g);
        out[o + 2] = clip8(b);
      }
    }
    img = out;
    w = outW;
  }
  if (outH !== height) {
    const c = precompute(height, outH);
    const out = new Uint8Array(w * outH * 3);
    const stride = w * 3;
    for (let yy = 0; yy < outH; yy++) {
      const ymin = c.bounds[yy * 2];
      const n = c.bounds[yy * 2 + 1];
      const kb = yy * c.ksize;
      const o = yy * stride;
      for (let i = 0; i < stride; i++) {
        let s = HALF;
        for (let y = 0; y < n; y++) s += img[(ymin + y) * stride + i] * c.k[kb + y];
        out[o + i] = clip8(s);
      }
    }
    img = out;
  }
  return img === src ? src.slice() : img;
}
