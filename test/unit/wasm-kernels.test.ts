// The wasm conv-gradient kernels must agree with the cpu backend's reference kernels on every
// geometry the networks use (and a few they do not): strides 1 and 2, explicit, 'same' and
// 'valid' padding, 3×3, 4×4 and 7×7 filters, odd sizes, batch > 1.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../cli/tf-backend.ts';
import { registerWasmTrainingKernels, wasmTrainingKernels } from '../../shared/tfjs/wasm-kernels.ts';

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
interface Case {
  x: [number, number, number, number];
  k: [number, number];
  cout: number;
  s: number;
  pad: Pad;
}

const P1: Pad = [[0, 0], [1, 1], [1, 1], [0, 0]];
const CASES: Case[] = [
  { x: [1, 14, 14, 3], k: [7, 7], cout: 5, s: 1, pad: 'valid' }, // stem / head after ReflectionPad(3)
  { x: [1, 12, 12, 4], k: [3, 3], cout: 8, s: 2, pad: P1 }, // generator downsampling
  { x: [1, 10, 10, 8], k: [3, 3], cout: 8, s: 1, pad: 'valid' }, // residual block after ReflectionPad(1)
  { x: [1, 16, 16, 3], k: [4, 4], cout: 6, s: 2, pad: P1 }, // PatchGAN stride-2 layers
  { x: [1, 5, 5, 6], k: [4, 4], cout: 7, s: 1, pad: P1 }, // PatchGAN stride-1 layers
  { x: [2, 9, 11, 5], k: [3, 3], cout: 6, s: 2, pad: 'same' },
  { x: [2, 10, 7, 5], k: [4, 4], cout: 3, s: 2, pad: 'same' },
  { x: [1, 9, 9, 2], k: [3, 3], cout: 3, s: 2, pad: 'valid' }, // stride leaves a trailing row unread
  { x: [3, 13, 8, 4], k: [7, 7], cout: 2, s: 2, pad: [[0, 0], [3, 2], [1, 3], [0, 0]] }, // asymmetric
  { x: [1, 8, 8, 4], k: [3, 4], cout: 5, s: 1, pad: 'same' }, // non-square filter
];

/** Deterministic values in [-1, 1), so both backends get identical inputs. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

interface Grads {
  dW: Float32Array;
  dX: Float32Array;
  shapes: number[][];
}

function grads(c: Case, seed: number): Grads {
  return tf.tidy(() => {
    const x = tf.tensor4d(values(c.x.reduce((a, b) => a * b), seed), c.x);
    const wShape: [number, number, number, number] = [c.k[0], c.k[1], c.x[3], c.cout];
    const w = tf.tensor4d(values(wShape.reduce((a, b) => a * b), seed + 1), wShape);
    const yShape = tf.conv2d(x, w, c.s, c.pad).shape;
    const dy = tf.tensor4d(values(yShape.reduce((a, b) => a * b), seed + 2), yShape);
    const dW = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
      strides: [c.s, c.s],
      pad: c.pad,
      dataFormat: 'NHWC',
      filterShape: wShape,
    }) as tf.Tensor;
    const dX = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, {
      strides: [c.s, c.s],
      pad: c.pad,
      dataFormat: 'NHWC',
      inputShape: c.x,
    }) as tf.Tensor;
    return { dW: dW.dataSync() as Float32Array, dX: dX.dataSync() as Float32Array, shapes: [dW.shape, dX.shape] };
  });
}

function expectClose(got: Float32Array, want: Float32Array, what: string) {
  expect(got.length, what).toBe(want.length);
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  expect(worst / scale, `${what}: max error relative to max |value|`).toBeLessThan(1e-5);
}

describe('wasm conv-gradient kernels', () => {
  beforeAll(async () => {
    await useBackend('cpu');
    await useBackend('wasm');
    registerWasmTrainingKernels();
  });

  it('the kernels under test are ours, not the stock ones', () => {
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')?.kernelFunc).toBe(wasmTrainingKernels.conv2DBackpropFilter);
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm')?.kernelFunc).toBe(wasmTrainingKernels.conv2DBackpropInput);
    registerWasmTrainingKernels(); // idempotent: no re-registration, no warning, same kernels
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm')?.kernelFunc).toBe(wasmTrainingKernels.conv2DBackpropInput);
  });

  for (const [i, c] of CASES.entries()) {
    const label = `x ${c.x.join('×')}, ${c.k.join('×')}→${c.cout}, stride ${c.s}, pad ${JSON.stringify(c.pad)}`;
    it(`matches the cpu kernels: ${label}`, async () => {
      await tf.setBackend('cpu');
      const want = grads(c, 100 + i);
      await tf.setBackend('wasm');
      const before = tf.memory().numTensors;
      const got = grads(c, 100 + i);
      expect(tf.memory().numTensors).toBe(before);
      expect(got.shapes).toEqual(want.shapes);
      expectClose(got.dW, want.dW, 'dW');
      expectClose(got.dX, want.dX, 'dX');
    });
  }

  it('trains a conv and a transposed conv end to end through tf.grads on wasm', async () => {
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor4d(values(2 * 9 * 9 * 3, 7), [2, 9, 9, 3]);
        const w1 = tf.tensor4d(values(3 * 3 * 3 * 4, 8), [3, 3, 3, 4]);
        const w2 = tf.tensor4d(values(4 * 4 * 2 * 4, 9), [4, 4, 2, 4]); // conv2dTranspose filter [kh,kw,out,in]
        const f = (a: tf.Tensor, b: tf.Tensor) => {
          const h = tf.conv2d(x, a as tf.Tensor4D, 2, 'same');
          return tf.sum(tf.square(tf.conv2dTranspose(h, b as tf.Tensor4D, [2, 10, 10, 2], 2, 'same')));
        };
        return tf.grads(f)([w1, w2]).map((g) => g.dataSync() as Float32Array);
      });
    await tf.setBackend('cpu');
    const want = run();
    await tf.setBackend('wasm');
    const got = run();
    expectClose(got[0], want[0], 'conv weight gradient');
    expectClose(got[1], want[1], 'transposed-conv weight gradient');
  });
});

// The depthwise-conv gradient kernels (the student generator's separable blocks) against the cpu
// backend's: the student's geometry (3×3 valid after a reflect pad) and general ones.
const DEPTHWISE: Array<{ x: [number, number, number, number]; k: number; m: number; s: number; d: number; pad: Pad }> = [
  { x: [2, 10, 12, 6], k: 3, m: 1, s: 1, d: 1, pad: 'valid' }, // the student's blocks
  { x: [1, 9, 11, 4], k: 3, m: 2, s: 2, d: 1, pad: 'same' }, // channel multiplier, stride 2
  { x: [1, 12, 9, 3], k: 5, m: 1, s: 2, d: 1, pad: P1 }, // 5×5, stride 2, explicit padding (TF.js has no dilated depthwise gradient)
];

describe('wasm depthwise-conv gradient kernels', () => {
  beforeAll(async () => {
    await useBackend('cpu');
    await useBackend('wasm');
  });

  it('are registered on wasm (tfjs-backend-wasm 4.22 ships neither)', () => {
    expect(tf.getKernel('DepthwiseConv2dNativeBackpropFilter', 'wasm')?.kernelFunc).toBe(wasmTrainingKernels.depthwiseBackpropFilter);
    expect(tf.getKernel('DepthwiseConv2dNativeBackpropInput', 'wasm')?.kernelFunc).toBe(wasmTrainingKernels.depthwiseBackpropInput);
  });

  for (const [i, c] of DEPTHWISE.entries()) {
    it(`match the cpu kernels: x ${c.x.join('×')}, ${c.k}×${c.k}×${c.m}, stride ${c.s}, dilation ${c.d}, pad ${JSON.stringify(c.pad)}`, async () => {
      const run = () =>
        tf.tidy(() => {
          const x = tf.tensor4d(values(c.x.reduce((a, b) => a * b), 300 + i), c.x);
          const w = tf.tensor4d(values(c.k * c.k * c.x[3] * c.m, 400 + i), [c.k, c.k, c.x[3], c.m]);
          const y = tf.depthwiseConv2d(x, w, c.s, c.pad, 'NHWC', c.d);
          const r = tf.tensor(values(y.size, 500 + i), y.shape);
          const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad, 'NHWC', c.d), r)))([x, w]);
          return [dx.dataSync() as Float32Array, dw.dataSync() as Float32Array];
        });
      await tf.setBackend('cpu');
      const want = run();
      await tf.setBackend('wasm');
      const before = tf.memory().numTensors;
      const got = run();
      expect(tf.memory().numTensors).toBe(before);
      expectClose(got[0], want[0], 'dx');
      expectClose(got[1], want[1], 'dW');
    });
  }
});
