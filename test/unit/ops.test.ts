/**
 * The model's building blocks against PyTorch, forward and backward, on each Node backend.
 * Expected values come from scripts/make_model_fixtures.py (float64 PyTorch, rounded to float32).
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor1D, Tensor4D } from '@tensorflow/tfjs-core';
import { useBackend, type NodeBackend } from '../../cli/tf-backend.ts';
import { conv2dPadded, convTranspose3x3s2, instanceNorm, reflectPad } from '../../shared/model/ops.ts';
import { readSafetensors } from '../../shared/weights/safetensors.ts';

const fixture = readSafetensors(
  readFileSync(new URL('../fixtures/model/ops.safetensors', import.meta.url)),
  'ops.safetensors',
).tensors;

function t(name: string): Tensor {
  const f = fixture.get(name);
  if (!f) throw new Error(`fixture tensor ${name} missing: rerun scripts/make_model_fixtures.py`);
  return tf.tensor(f.data, f.shape, 'float32');
}

/** Max abs error, scaled down where the expected values are large (gradients reach ~10). */
function relErr(actual: Tensor, expectedName: string): number {
  const want = fixture.get(expectedName)!;
  expect(actual.shape).toEqual(want.shape);
  const got = actual.dataSync();
  let err = 0;
  let scale = 1;
  for (let i = 0; i < got.length; i++) {
    err = Math.max(err, Math.abs(got[i] - want.data[i]));
    scale = Math.max(scale, Math.abs(want.data[i]));
  }
  return err / scale;
}

const TOL = 1e-5;

for (const backend of ['cpu', 'wasm'] as NodeBackend[]) {
  describe(`model ops on ${backend}`, () => {
    beforeAll(async () => {
      expect(await useBackend(backend)).toBe(backend);
    });

    it('reflectPad gradient adds the reflected border back: d/dx sum(pad([1,2,3,4], 1)) = [1,2,2,1]', () => {
      const x = tf.tensor4d([1, 2, 3, 4], [1, 1, 4, 1]);
      const g = tf.grad((v: Tensor) => tf.sum(reflectPad(v as Tensor4D, [0, 1])))(x);
      expect(Array.from(g.dataSync())).toEqual([1, 2, 2, 1]);
      expect(Array.from(reflectPad(x, [0, 1]).dataSync())).toEqual([2, 1, 2, 3, 4, 3]);
      tf.dispose([x, g]);
    });

    for (const key of ['reflect_p2', 'reflect_p3']) {
      it(`reflectPad forward and gradient match torch ReflectionPad2d (${key})`, () => {
        tf.tidy(() => {
          const x = t(`${key}.x`) as Tensor4D;
          const r = t(`${key}.r`);
          const p = (r.shape[1]! - x.shape[1]) / 2;
          expect(relErr(reflectPad(x, p), `${key}.y`)).toBeLessThanOrEqual(TOL);
          const dx = tf.grad((v: Tensor) => tf.sum(tf.mul(reflectPad(v as Tensor4D, p), r)))(x);
          expect(relErr(dx, `${key}.dx`)).toBeLessThanOrEqual(TOL);
        });
      });
    }

    it('reflectPad rejects padding as large as the image', () => {
      const x = tf.zeros([1, 3, 5, 2]) as Tensor4D;
      expect(() => reflectPad(x, 3)).toThrow(/smaller than the image/);
      x.dispose();
    });

    it('instanceNorm forward and gradient match torch instance_norm (no affine, eps 1e-5)', () => {
      tf.tidy(() => {
        const x = t('inorm.x') as Tensor4D;
        const r = t('inorm.r');
        expect(relErr(instanceNorm(x), 'inorm.y')).toBeLessThanOrEqual(TOL);
        const dx = tf.grad((v: Tensor) => tf.sum(tf.mul(instanceNorm(v as Tensor4D), r)))(x);
        expect(relErr(dx, 'inorm.dx')).toBeLessThanOrEqual(1e-4);
      });
    });

    for (const [key, stride] of [['conv3s2', 2], ['conv4s2', 2], ['conv4s1', 1]] as const) {
      it(`conv2dPadded with padding 1 matches torch conv2d (${key})`, () => {
        tf.tidy(() => {
          const y = conv2dPadded(t(`${key}.x`) as Tensor4D, t(`${key}.w`) as Tensor4D, t(`${key}.b`) as Tensor1D, stride, 1);
          expect(relErr(y, `${key}.y`)).toBeLessThanOrEqual(TOL);
        });
      });

      it(`conv2dPadded gradients (input, weight, bias) match torch (${key})`, () => {
        tf.tidy(() => {
          const r = t(`${key}.r`);
          const f = (x: Tensor, w: Tensor, b: Tensor) =>
            tf.sum(tf.mul(conv2dPadded(x as Tensor4D, w as Tensor4D, b as Tensor1D, stride, 1), r));
          const [dx, dw, db] = tf.grads(f)([t(`${key}.x`), t(`${key}.w`), t(`${key}.b`)]);
          expect(relErr(dx, `${key}.dx`)).toBeLessThanOrEqual(TOL);
          expect(relErr(dw, `${key}.dw`)).toBeLessThanOrEqual(TOL);
          expect(relErr(db, `${key}.db`)).toBeLessThanOrEqual(TOL);
        });
      });
    }

    it('convTranspose3x3s2 matches torch ConvTranspose2d(k3, s2, p1, output_padding 1)', () => {
      tf.tidy(() => {
        const y = convTranspose3x3s2(t('convT.x') as Tensor4D, t('convT.w') as Tensor4D, t('convT.b') as Tensor1D);
        expect(relErr(y, 'convT.y')).toBeLessThanOrEqual(TOL);
      });
    });

    // On wasm the conv weight gradient runs on the Conv2DBackpropFilter kernel that
    // shared/tfjs/wasm-kernels.ts adds (tfjs-backend-wasm 4.22 has none); useBackend registers it.
    it('convTranspose3x3s2 gradients (input, 3×3 weight, bias) match torch', () => {
      tf.tidy(() => {
        const r = t('convT.r');
        const f = (x: Tensor, w: Tensor, b: Tensor) =>
          tf.sum(tf.mul(convTranspose3x3s2(x as Tensor4D, w as Tensor4D, b as Tensor1D), r));
        const [dx, dw, db] = tf.grads(f)([t('convT.x'), t('convT.w'), t('convT.b')]);
        expect(relErr(dx, 'convT.dx')).toBeLessThanOrEqual(TOL);
        expect(relErr(dw, 'convT.dw')).toBeLessThanOrEqual(TOL);
        expect(relErr(db, 'convT.db')).toBeLessThanOrEqual(TOL);
      });
    });
  });
}
