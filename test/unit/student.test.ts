/**
 * The distilled student generator (shared/model/student.ts) against PyTorch's MobileResnetGenerator
 * (scripts/torch_reference.py), forward and every gradient, on the cpu and wasm backends; its
 * MAC count and the `fast` preset. Fixtures: scripts/make_student_fixtures.py → test/fixtures/model/.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor4D } from '@tensorflow/tfjs-core';
import { useBackend, type NodeBackend } from '../../cli/tf-backend.ts';
import {
  fastStudentConfig,
  generatorMacs,
  initNetwork,
  mobileGenerator,
  mobileGeneratorMacs,
  PRESETS,
  studentParamSpecs,
  validateStudentConfig,
  type Params,
  type StudentConfig,
} from '../../shared/model/index.ts';
import { readSafetensors } from '../../shared/weights/safetensors.ts';

function fixture(file: string) {
  const { tensors, metadata } = readSafetensors(readFileSync(new URL(`../fixtures/model/${file}`, import.meta.url)), file);
  const cfg: StudentConfig = { arch: 'mobile-resnet', ngf: Number(metadata.ngf), nBlocks: Number(metadata.nBlocks) };
  const get = (name: string) => {
    const t = tensors.get(name);
    if (!t) throw new Error(`${file}: missing ${name}`);
    return t;
  };
  return { tensors, cfg, get };
}

function maxAbsErr(actual: Tensor, expected: Float32Array): number {
  const got = actual.dataSync();
  expect(got.length).toBe(expected.length);
  let err = 0;
  for (let i = 0; i < got.length; i++) err = Math.max(err, Math.abs(got[i] - expected[i]));
  return err;
}

for (const backend of ['cpu', 'wasm'] as NodeBackend[]) {
  describe(`student generator on ${backend}`, () => {
    beforeAll(async () => {
      expect(await useBackend(backend)).toBe(backend);
    });

    it('matches PyTorch MobileResnetGenerator within 1e-4 (ngf 4, 3 blocks, batch 2, 20×28)', () => {
      const { tensors, cfg, get } = fixture('student_ngf4_b3.safetensors');
      const specs = studentParamSpecs(cfg);
      // Exactly the PyTorch state_dict: same names, same shapes, nothing else.
      expect(tensors.size).toBe(specs.length + 2);
      tf.tidy(() => {
        const params: Params = {};
        for (const s of specs) {
          expect(get(s.name).shape, s.name).toEqual(s.shape);
          params[s.name] = tf.tensor(get(s.name).data, s.shape, 'float32');
        }
        const x = tf.tensor4d(get('input').data, get('input').shape as [number, number, number, number]);
        const y = mobileGenerator(params, cfg, x);
        expect(y.shape).toEqual(get('output').shape);
        expect(maxAbsErr(y, get('output').data)).toBeLessThanOrEqual(1e-4);
      });
    });

    it('gradients of every parameter and the input match PyTorch within 1e-4 relative', () => {
      const { cfg, get } = fixture('student_grad_ngf2.safetensors');
      const specs = studentParamSpecs(cfg);
      tf.tidy(() => {
        const asTensor = (name: string) => tf.tensor(get(name).data, get(name).shape, 'float32');
        const r = asTensor('r');
        const loss = (x: Tensor, ...ws: Tensor[]) => {
          const params: Params = Object.fromEntries(specs.map((s, i) => [s.name, ws[i]]));
          return tf.sum(tf.mul(mobileGenerator(params, cfg, x as Tensor4D), r));
        };
        const grads = tf.grads(loss)([asTensor('input'), ...specs.map((s) => asTensor(s.name))]);
        const names = ['input', ...specs.map((s) => s.name)];
        expect(names.filter((n) => n.includes('.conv.0.weight')).length).toBe(2 * cfg.nBlocks);
        for (let i = 0; i < names.length; i++) {
          const want = get(`grad.${names[i]}`).data;
          let scale = 1;
          for (const v of want) scale = Math.max(scale, Math.abs(v));
          expect(grads[i].shape, names[i]).toEqual(get(`grad.${names[i]}`).shape);
          expect(maxAbsErr(grads[i], want) / scale, names[i]).toBeLessThanOrEqual(1e-4);
        }
      });
    });

    it('keeps any size that is a multiple of 4 and rejects others with a message', () => {
      const cfg: StudentConfig = { arch: 'mobile-resnet', ngf: 2, nBlocks: 1 };
      const p = initNetwork(studentParamSpecs(cfg), 3);
      tf.tidy(() => {
        for (const [h, w] of [[12, 20], [8, 44]]) expect(mobileGenerator(p, cfg, tf.zeros([1, h, w, 3]) as Tensor4D).shape).toEqual([1, h, w, 3]);
        expect(() => mobileGenerator(p, cfg, tf.zeros([1, 10, 12, 3]) as Tensor4D)).toThrow(/multiples of 4.*10×12/);
      });
      tf.dispose(Object.values(p));
    });
  });
}

describe('student MACs and the fast preset', () => {
  it('counts the teacher as the paper does: full preset 49.6 GMAC at 256×256', () => {
    // Per layer by hand: stem 0.617, downs 1.208 + 1.208, 9 blocks × 4.832, ups 1.208 + 1.208, head 0.617 (GMAC).
    expect(generatorMacs(PRESETS.full.generator, 256, 256) / 1e9).toBeCloseTo(49.552, 3);
    // A separable block at dim 256, 64×64: 2 × (9·256 + 256²) · 4096.
    const oneBlock = mobileGeneratorMacs({ ngf: 64, nBlocks: 1 }, 256, 256) - mobileGeneratorMacs({ ngf: 64, nBlocks: 0 }, 256, 256);
    expect(oneBlock).toBe(2 * (9 * 256 + 256 * 256) * 4096);
  });

  it('the fast student has ≥ 20× fewer MACs than a full teacher and ≥ 10× fewer than a small one', () => {
    const full = fastStudentConfig(PRESETS.full.generator);
    const small = fastStudentConfig(PRESETS.small.generator);
    expect(full).toEqual({ arch: 'mobile-resnet', ngf: 28, nBlocks: 9 });
    expect(small).toEqual({ arch: 'mobile-resnet', ngf: 6, nBlocks: 6 });
    expect(generatorMacs(PRESETS.full.generator, 256, 256) / mobileGeneratorMacs(full, 256, 256)).toBeGreaterThanOrEqual(20);
    expect(generatorMacs(PRESETS.small.generator, 256, 256) / mobileGeneratorMacs(small, 256, 256)).toBeGreaterThanOrEqual(10);
    // One ngf wider would break the budget: the preset is the widest that fits.
    expect(generatorMacs(PRESETS.small.generator, 256, 256) / mobileGeneratorMacs({ ...small, ngf: 7 }, 256, 256)).toBeLessThan(10);
  });

  it('validates student configs naming the field', () => {
    expect(validateStudentConfig({ arch: 'mobile-resnet', ngf: 6, nBlocks: 6 })).toEqual({ arch: 'mobile-resnet', ngf: 6, nBlocks: 6 });
    expect(() => validateStudentConfig({ arch: 'resnet', ngf: 6, nBlocks: 6 })).toThrow(/arch/);
    expect(() => validateStudentConfig({ arch: 'mobile-resnet', ngf: 0, nBlocks: 6 })).toThrow(/ngf/);
    expect(() => validateStudentConfig({ arch: 'mobile-resnet', ngf: 6 })).toThrow(/nBlocks/);
  });
});
