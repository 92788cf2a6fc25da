/**
 * The building blocks of the CycleGAN networks that TF.js lacks or gets subtly wrong, on
 * `@tensorflow/tfjs-core` ops only (the model never picks a backend). Activations are NHWC.
 *
 * Each block equals its PyTorch counterpart in the reference implementation, forward and
 * backward; test/unit/ops.test.ts checks them against PyTorch-made fixtures.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor1D, Tensor4D } from '@tensorflow/tfjs-core';

function checkRank4(x: Tensor, what: string): void {
  if (x.rank !== 4) throw new Error(`${what}: expected an NHWC tensor of rank 4, got shape [${x.shape}]`);
}

/**
 * The reflect-pad gradient along one axis: the centre, plus each reflected border added back
 * onto the pixel it copies (padded row p-1-i copies row i+1; the bottom mirrors the same way).
 */
function foldReflection(dy: Tensor4D, axis: 1 | 2, p: number, n: number): Tensor4D {
  if (p === 0) return dy;
  const begin = (at: number): number[] => (axis === 1 ? [0, at, 0, 0] : [0, 0, at, 0]);
  const size = (len: number): number[] => (axis === 1 ? [-1, len, -1, -1] : [-1, -1, len, -1]);
  const pads = (before: number, after: number): Array<[number, number]> =>
    axis === 1 ? [[0, 0], [before, after], [0, 0], [0, 0]] : [[0, 0], [0, 0], [before, after], [0, 0]];
  const centre = tf.slice(dy, begin(p), size(n));
  const top = tf.reverse(tf.slice(dy, begin(0), size(p)), axis);
  const bottom = tf.reverse(tf.slice(dy, begin(p + n), size(p)), axis);
  return tf.addN([centre, tf.pad(top, pads(1, n - 1 - p)), tf.pad(bottom, pads(n - 1 - p, 1))]) as Tensor4D;
}

const reflectPadFns = new Map<string, (x: Tensor4D) => Tensor4D>();

/**
 * PyTorch's ReflectionPad2d on NHWC: `p` rows above and below, and columns left and right (or
 * `[ph, pw]`). Forward is TF.js's MirrorPad; the gradient is written here because TF.js 4.22's
 * MirrorPad gradient returns only the centre slice and drops the reflected border terms, which
 * would make training diverge from the reference.
 */
export function reflectPad(x: Tensor4D, p: number | [number, number]): Tensor4D {
  checkRank4(x, 'reflectPad');
  const [ph, pw] = typeof p === 'number' ? [p, p] : p;
  const [, h, w] = x.shape;
  if (!Number.isInteger(ph) || !Number.isInteger(pw) || ph < 0 || pw < 0)
    throw new Error(`reflectPad: padding must be non-negative integers, got ${JSON.stringify(p)}`);
  if (ph >= h || pw >= w)
    throw new Error(`reflectPad: padding [${ph}, ${pw}] must be smaller than the image [${h}, ${w}] to reflect`);
  const key = `${ph},${pw}`;
  let fn = reflectPadFns.get(key);
  if (!fn) {
    fn = tf.customGrad((input: Tensor | tf.GradSaveFunc) => {
      const t = input as Tensor4D;
      const value = tf.mirrorPad(t, [[0, 0], [ph, ph], [pw, pw], [0, 0]], 'reflect');
      const [, hh, ww] = t.shape;
      const gradFunc = (dy: Tensor4D) => foldReflection(foldReflection(dy, 1, ph, hh), 2, pw, ww);
      return { value, gradFunc };
    }) as (x: Tensor4D) => Tensor4D;
    reflectPadFns.set(key, fn);
  }
  return fn(x);
}

export const INSTANCE_NORM_EPS = 1e-5;

/**
 * Backends whose average pool over the whole image beats their own `mean` over H and W
 * (measured on [1,256,256,64]: wasm 10 ms vs 141 ms, cpu 0.3 s vs 2.3 s; their mean first
 * transposes the reduced axes innermost). GPU backends keep `mean`: a global-window pool
 * there is one long loop per channel. The choice changes speed only, not the numbers' meaning.
 */
const POOL_MEAN_BACKENDS = new Set(['wasm', 'cpu']);

/** Mean over H and W, keeping dims: `[n, h, w, c]` → `[n, 1, 1, c]`. */
function spatialMean(x: Tensor4D): Tensor4D {
  if (!POOL_MEAN_BACKENDS.has(tf.getBackend())) return tf.mean(x, [1, 2], true);
  const meanByPool = tf.customGrad((input: Tensor | tf.GradSaveFunc) => {
    const t = input as Tensor4D;
    const [, h, w] = t.shape;
    const value = tf.avgPool(t, [h, w], 1, 'valid');
    // The gradient of a mean spreads dy evenly; written out so no backend's AvgPoolGrad loop runs.
    // A broadcasting add onto zeros, not tf.broadcastTo: wasm's Tile kernel took 14% of a
    // training iteration, its broadcast Add a fraction of that.
    const gradFunc = (dy: Tensor4D) => tf.add(tf.zeros(t.shape), tf.div(dy, h * w));
    return { value, gradFunc };
  }) as (t: Tensor4D) => Tensor4D;
  return meanByPool(x);
}

/**
 * InstanceNorm2d(affine=False, track_running_stats=False): per sample and channel over H and W,
 * biased variance, eps 1e-5. Built from means rather than tf.batchNorm, whose gradient throws
 * for 4-D statistics.
 */
export function instanceNorm(x: Tensor4D): Tensor4D {
  checkRank4(x, 'instanceNorm');
  return tf.tidy(() => {
    const centred = tf.sub(x, spatialMean(x));
    const variance = spatialMean(tf.square(centred) as Tensor4D);
    return tf.mul(centred, tf.rsqrt(tf.add(variance, INSTANCE_NORM_EPS))) as Tensor4D;
  });
}

/**
 * A conv with PyTorch's symmetric `padding` and a bias, through TF.js's fused conv (one kernel
 * call on wasm/XNNPACK). Explicit padding, never 'same': for stride 2 'same' pads only at the
 * bottom/right and shifts the output by a pixel against the reference.
 * `w` is `[kh, kw, in, out]`, `b` is `[out]`.
 */
export function conv2dPadded(
  x: Tensor4D,
  w: Tensor4D,
  b: Tensor1D,
  stride: number,
  padding: number,
  activation: 'linear' | 'relu' | 'leakyrelu' = 'linear',
): Tensor4D {
  checkRank4(x, 'conv2dPadded');
  if (w.rank !== 4 || w.shape[2] !== x.shape[3])
    throw new Error(`conv2dPadded: weight [${w.shape}] does not take ${x.shape[3]} input channels`);
  const pad: [[number, number], [number, number], [number, number], [number, number]] = [
    [0, 0],
    [padding, padding],
    [padding, padding],
    [0, 0],
  ];
  return tf.fused.conv2d({
    x,
    filter: w,
    bias: b,
    strides: stride,
    pad: padding === 0 ? 'valid' : pad,
    activation,
    leakyreluAlpha: activation === 'leakyrelu' ? 0.2 : undefined,
  });
}

/**
 * The 2×2 conv weight `[2, 2, cin, 4·cout]` (channels ordered (a, b, cout)) equivalent to a
 * 3×3 stride-2 transposed-conv weight `wT` `[3, 3, cout, cin]` (padding 1, output_padding 1).
 *
 * Output pixel (2m+a, 2n+b) of the transposed conv sums input pixels (m+di, n+dj), di, dj in
 * {0, 1}, through tap k(a, di): k(0,0)=1, k(1,0)=2, k(1,1)=0, and none for (a=0, di=1). With a
 * zero tap appended at index 3, the taps in (di, a) order are [1, 2, 3, 0]: a rotation by one.
 *
 * Every step is a slice, concat, pad, reshape or a transpose of rank at most 4, so the gradient
 * reaches `wT` on every backend and each step is a memcpy-like pass on wasm (measured there:
 * rank-5/6 split and transpose, or a 0.5M-element gather, each cost as much as the conv itself).
 */
export function convTransposeAsConvWeight(wT: Tensor4D): Tensor4D {
  if (wT.rank !== 4 || wT.shape[0] !== 3 || wT.shape[1] !== 3)
    throw new Error(`convTranspose3x3s2: weight must be [3, 3, out, in], got [${wT.shape}]`);
  const [, , cout, cin] = wT.shape;
  const cc = cin * cout;
  return tf.tidy(() => {
    const rotateTaps = (t: Tensor, axis: 0 | 1): Tensor => {
      const padded = tf.pad(t, t.shape.map((_, i) => (i === axis ? [0, 1] : [0, 0])) as Array<[number, number]>);
      const [head, tail] = tf.split(padded, [1, 3], axis);
      return tf.concat([tail, head], axis);
    };
    const w = tf.transpose(tf.reshape(wT, [9, cout, cin]), [0, 2, 1]); // [(kh, kw), cin, cout]
    const rows = rotateTaps(tf.reshape(w, [3, 3 * cc]), 0); // [(di, a), (kw, cin, cout)]
    const both = rotateTaps(tf.reshape(rows, [4, 3, cc]), 1); // [(di, a), (dj, b), (cin, cout)]
    const ddab = tf.transpose(tf.reshape(both, [2, 2, 2, 2 * cc]), [0, 2, 1, 3]); // [di, dj, a, (b, cin, cout)]
    const k = tf.transpose(tf.reshape(ddab, [4, 4, cin, cout]), [0, 2, 1, 3]); // [(di, dj), cin, (a, b), cout]
    return tf.reshape(k, [2, 2, cin, 4 * cout]) as Tensor4D;
  });
}

/**
 * PyTorch's ConvTranspose2d(k=3, stride=2, padding=1, output_padding=1) with bias, as one 2×2
 * conv over the input (padded by a zero row and column at the bottom/right) into 4·cout
 * channels, then a pixel shuffle by reshape/transpose. Same numbers as the transposed conv, but
 * on wasm it runs through XNNPACK instead of the stock backend's naive transposed-conv loop
 * (each up layer about 5× faster, the `full` forward 1.6–1.8×), needs no backend-specific
 * kernel, and unlike tf.depthToSpace the shuffle is fast and has a gradient.
 * `wT` is `[3, 3, cout, cin]` (TF.js conv2dTranspose's filter layout), `b` is `[cout]`.
 */
export function convTranspose3x3s2(x: Tensor4D, wT: Tensor4D, b: Tensor1D): Tensor4D {
  checkRank4(x, 'convTranspose3x3s2');
  const [n, h, w, cin] = x.shape;
  if (wT.rank !== 4 || wT.shape[3] !== cin)
    throw new Error(`convTranspose3x3s2: weight [${wT.shape}] does not take ${cin} input channels`);
  const cout = wT.shape[2];
  return tf.tidy(() => {
    const k = convTransposeAsConvWeight(wT);
    const y = tf.fused.conv2d({
      x,
      filter: k,
      bias: tf.tile(b, [4]),
      strides: 1,
      pad: [[0, 0], [0, 1], [0, 1], [0, 0]],
    });
    // [n, h, w, (a, b, c)] -> [n·h, w, a, (b, c)] -> [n·h, a, w, (b, c)] -> [n, 2h, 2w, c]
    const shuffled = tf.transpose(tf.reshape(y, [n * h, w, 2, 2 * cout]), [0, 2, 1, 3]);
    return tf.reshape(shuffled, [n, 2 * h, 2 * w, cout]) as Tensor4D;
  });
}
