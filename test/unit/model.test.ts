/**
 * The CycleGAN networks against the PyTorch reference (scripts/torch_reference.py), one shared
 * suite per Node backend. Fixtures: scripts/make_model_fixtures.py → test/fixtures/model/.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor4D } from '@tensorflow/tfjs-core';
import { useBackend, type NodeBackend } from '../../cli/tf-backend.ts';
import {
  discriminator,
  discriminatorParamSpecs,
  generator,
  generatorParamSpecs,
  initNetwork,
  type DiscriminatorConfig,
  type GeneratorConfig,
  type Params,
} from '../../shared/model/index.ts';
import { readSafetensors } from '../../shared/weights/safetensors.ts';

interface Fixture {
  params: Params;
  input: Tensor4D;
  output: Float32Array;
  outputShape: number[];
  meta: Record<string, number>;
}

/** Loads weights, input and expected output; the weights must be exactly the specs' names and shapes. */
function loadFixture(file: string, specs: (meta: Record<string, number>) => { name: string; shape: number[] }[]): Fixture {
  const { tensors, metadata } = readSafetensors(readFileSync(new URL(`../fixtures/model/${file}`, import.meta.url)), file);
  const meta = Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, Number(v)]));
  const params: Params = {};
  const expected = specs(meta);
  for (const s of expected) {
    const f = tensors.get(s.name);
    if (!f) throw new Error(`${file}: missing ${s.name}`);
    expect(f.shape, s.name).toEqual(s.shape);
    params[s.name] = tf.tensor(f.data, f.shape, 'float32');
  }
  expect(tensors.size).toBe(expected.length + 2);
  const inp = tensors.get('input')!;
  const out = tensors.get('output')!;
  return { params, input: tf.tensor4d(inp.data, inp.shape as [number, number, number, number]), output: out.data, outputShape: out.shape, meta };
}

function maxAbsErr(actual: Tensor, expected: Float32Array): number {
  const got = actual.dataSync();
  expect(got.length).toBe(expected.length);
  let err = 0;
  for (let i = 0; i < got.length; i++) err = Math.max(err, Math.abs(got[i] - expected[i]));
  return err;
}

const genCfg = (m: Record<string, number>): GeneratorConfig => ({ ngf: m.ngf, nBlocks: m.nBlocks });
const discCfg = (m: Record<string, number>): DiscriminatorConfig => ({ ndf: m.ndf, nLayers: m.nLayers });

for (const backend of ['cpu', 'wasm'] as NodeBackend[]) {
  describe(`CycleGAN networks on ${backend}`, () => {
    const fixtures: Fixture[] = [];
    const load = (file: string, specs: Parameters<typeof loadFixture>[1]) => {
      const f = loadFixture(file, specs);
      fixtures.push(f);
      return f;
    };
    beforeAll(async () => {
      expect(await useBackend(backend)).toBe(backend);
    });
    afterAll(() => {
      for (const f of fixtures) tf.dispose([f.input, ...Object.values(f.params)]);
    });

    for (const file of ['gen6_ngf8.safetensors', 'gen9_ngf4.safetensors']) {
      it(`generator matches PyTorch ResnetGenerator within 1e-4 (${file}, non-square input)`, () => {
        const f = load(file, (m) => generatorParamSpecs(genCfg(m)));
        const y = generator(f.params, genCfg(f.meta), f.input);
        expect(y.shape).toEqual(f.outputShape);
        expect(maxAbsErr(y, f.output)).toBeLessThanOrEqual(1e-4);
        y.dispose();
      });
    }

    it('discriminator matches PyTorch NLayerDiscriminator within 1e-4 (disc_ndf8, 56×44)', () => {
      const f = load('disc_ndf8.safetensors', (m) => discriminatorParamSpecs(discCfg(m)));
      const y = discriminator(f.params, discCfg(f.meta), f.input);
      expect(y.shape).toEqual(f.outputShape);
      expect(maxAbsErr(y, f.output)).toBeLessThanOrEqual(1e-4);
      y.dispose();
    });

    for (const [file, kind] of [['gen_grad_ngf2.safetensors', 'generator'], ['disc_grad_ndf2.safetensors', 'discriminator']] as const) {
      it(`${kind} gradients of every parameter and the input match PyTorch (${file})`, () => {
        const { tensors, metadata } = readSafetensors(readFileSync(new URL(`../fixtures/model/${file}`, import.meta.url)), file);
        const meta = Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, Number(v)]));
        const specs = kind === 'generator' ? generatorParamSpecs(genCfg(meta)) : discriminatorParamSpecs(discCfg(meta));
        const get = (name: string) => {
          const f = tensors.get(name);
          if (!f) throw new Error(`${file}: missing ${name}`);
          return f;
        };
        tf.tidy(() => {
          const asTensor = (name: string) => tf.tensor(get(name).data, get(name).shape, 'float32');
          const r = asTensor('r');
          const loss = (x: Tensor, ...ws: Tensor[]) => {
            const params: Params = Object.fromEntries(specs.map((s, i) => [s.name, ws[i]]));
            const y = kind === 'generator' ? generator(params, genCfg(meta), x as Tensor4D) : discriminator(params, discCfg(meta), x as Tensor4D);
            return tf.sum(tf.mul(y, r));
          };
          const grads = tf.grads(loss)([asTensor('input'), ...specs.map((s) => asTensor(s.name))]);
          const names = ['input', ...specs.map((s) => s.name)];
          for (let i = 0; i < names.length; i++) {
            const want = get(`grad.${names[i]}`).data;
            let scale = 1;
            for (const v of want) scale = Math.max(scale, Math.abs(v));
            expect(grads[i].shape, names[i]).toEqual(get(`grad.${names[i]}`).shape);
            expect(maxAbsErr(grads[i], want) / scale, names[i]).toBeLessThanOrEqual(1e-4);
          }
        });
      });
    }

    it('keeps any size that is a multiple of 4; the PatchGAN output shrinks as PyTorch computes', () => {
      const g: GeneratorConfig = { ngf: 2, nBlocks: 1 };
      const d: DiscriminatorConfig = { ndf: 2, nLayers: 3 };
      const gp = initNetwork(generatorParamSpecs(g), 1);
      const dp = initNetwork(discriminatorParamSpecs(d), 2);
      tf.tidy(() => {
        for (const [h, w] of [[12, 20], [36, 8], [8, 44]]) {
          const x = tf.randomUniform([1, h, w, 3], -1, 1) as Tensor4D;
          expect(generator(gp, g, x).shape).toEqual([1, h, w, 3]);
        }
        // floor((n + 2 - 4) / s) + 1 per conv, as torch.nn.Conv2d: 70 → 35 → 17 → 8 → 7 → 6.
        expect(discriminator(dp, d, tf.zeros([2, 70, 45, 3]) as Tensor4D).shape).toEqual([2, 6, 3, 1]);
      });
      tf.dispose([...Object.values(gp), ...Object.values(dp)]);
    });

    it('rejects bad input with a message naming what is wrong', () => {
      const g: GeneratorConfig = { ngf: 2, nBlocks: 1 };
      const gp = initNetwork(generatorParamSpecs(g), 1);
      const before = tf.memory().numTensors;
      const x = tf.zeros([1, 10, 12, 3]) as Tensor4D;
      expect(() => generator(gp, g, x)).toThrow(/multiples of 4.*10×12/);
      const x4 = tf.zeros([1, 8, 8, 4]) as Tensor4D;
      expect(() => generator(gp, g, x4)).toThrow(/\[batch, height, width, 3\]/);
      const { ['model.4.bias']: _dropped, ...missing } = gp;
      const ok = tf.zeros([1, 8, 8, 3]) as Tensor4D;
      expect(() => generator(missing, g, ok)).toThrow(/"model\.4\.bias" is missing/);
      tf.dispose([x, x4, ok]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose(Object.values(gp));
    });

    it('leaks no tensors across repeated forward passes inside tf.tidy', () => {
      const g: GeneratorConfig = { ngf: 2, nBlocks: 2 };
      const d: DiscriminatorConfig = { ndf: 2, nLayers: 3 };
      const gp = initNetwork(generatorParamSpecs(g), 3);
      const dp = initNetwork(discriminatorParamSpecs(d), 4);
      const x = tf.randomUniform([1, 32, 24, 3], -1, 1) as Tensor4D;
      const step = () => tf.tidy(() => tf.sum(discriminator(dp, d, generator(gp, g, x))).dataSync());
      step(); // first call may create lasting backend state
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) step();
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, ...Object.values(gp), ...Object.values(dp)]);
    });

    it('initialises weights from N(0, 0.02) and biases at zero, the same for the same seed', () => {
      const specs = generatorParamSpecs({ ngf: 8, nBlocks: 2 });
      const a = initNetwork(specs, 42);
      const b = initNetwork(specs, 42);
      const c = initNetwork(specs, 43);
      const w = a['model.10.conv_block.1.weight'].dataSync();
      expect(Array.from(w)).toEqual(Array.from(b['model.10.conv_block.1.weight'].dataSync()));
      expect(Array.from(w)).not.toEqual(Array.from(c['model.10.conv_block.1.weight'].dataSync()));
      let all: number[] = [];
      for (const s of specs) {
        expect(a[s.name].shape).toEqual(s.shape);
        const v = Array.from(a[s.name].dataSync());
        if (s.kind === 'bias') expect(v.every((z) => z === 0)).toBe(true);
        else all = all.concat(v);
      }
      const mean = all.reduce((s, v) => s + v, 0) / all.length;
      const std = Math.sqrt(all.reduce((s, v) => s + (v - mean) ** 2, 0) / all.length);
      // ~37k draws: the sample std lies within 2% of 0.02 and the mean near 0 with overwhelming odds.
      expect(all.length).toBeGreaterThan(30000);
      expect(Math.abs(std - 0.02)).toBeLessThan(0.0004);
      expect(Math.abs(mean)).toBeLessThan(0.0004);
      tf.dispose([...Object.values(a), ...Object.values(b), ...Object.values(c)]);
    });
  });
}
