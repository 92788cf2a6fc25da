/**
 * The Worker-side generator forward (shared/gate/forward.ts) against the PyTorch reference:
 * the same fixtures test/unit/model.test.ts checks the TF.js model with
 * (scripts/make_model_fixtures.py → test/fixtures/model/), plus the transposed conv alone.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { macsPerImage, prepareGenerator, runGenerator, type GeneratorParams } from '../../shared/gate/forward.ts';
import { generatorParamSpecs } from '../../shared/model/param-specs.ts';
import { readSafetensors } from '../../shared/weights/safetensors.ts';

function load(file: string) {
  const { tensors, metadata } = readSafetensors(readFileSync(new URL(`../fixtures/model/${file}`, import.meta.url)), file);
  return { tensors, meta: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, Number(v)])) };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('gate forward: the generator in plain TypeScript', () => {
  for (const file of ['gen6_ngf8.safetensors', 'gen9_ngf4.safetensors']) {
    it(`matches PyTorch ResnetGenerator within 1e-4 (${file}, every image of the batch, non-square)`, () => {
      const { tensors, meta } = load(file);
      const cfg = { ngf: meta.ngf, nBlocks: meta.nBlocks };
      const params: GeneratorParams = {};
      for (const s of generatorParamSpecs(cfg)) params[s.name] = tensors.get(s.name)!.data;
      const g = prepareGenerator(cfg, params);
      const input = tensors.get('input')!;
      const output = tensors.get('output')!;
      const [n, h, w, c] = input.shape;
      expect(c).toBe(3);
      expect(h).not.toBe(w);
      const per = h * w * 3;
      for (let i = 0; i < n; i++) {
        const y = runGenerator(g, input.data.slice(i * per, (i + 1) * per), h, w);
        expect(maxAbsDiff(y, output.data.subarray(i * per, (i + 1) * per))).toBeLessThanOrEqual(1e-4);
      }
    });
  }

  it('is deterministic and leaves its input and parameters untouched', () => {
    const { tensors, meta } = load('gen6_ngf8.safetensors');
    const cfg = { ngf: meta.ngf, nBlocks: meta.nBlocks };
    const params: GeneratorParams = {};
    for (const s of generatorParamSpecs(cfg)) params[s.name] = tensors.get(s.name)!.data.slice();
    const before = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, v.slice()]));
    const g = prepareGenerator(cfg, params);
    const { data, shape } = tensors.get('input')!;
    const x = data.slice(0, shape[1] * shape[2] * 3);
    const x0 = x.slice();
    const a = runGenerator(g, x, shape[1], shape[2]);
    const b = runGenerator(g, x, shape[1], shape[2]);
    expect(b).toEqual(a);
    expect(x).toEqual(x0);
    for (const k of Object.keys(params)) expect(params[k]).toEqual(before[k]);
  });

  it('rejects bad parameters and bad images with a message naming what is wrong', () => {
    const cfg = { ngf: 2, nBlocks: 1 };
    const params: GeneratorParams = {};
    for (const s of generatorParamSpecs(cfg)) params[s.name] = new Float32Array(s.shape.reduce((a, b) => a * b, 1));
    const g = prepareGenerator(cfg, params);
    const { ['model.4.bias']: _, ...missing } = params;
    expect(() => prepareGenerator(cfg, missing)).toThrow(/"model\.4\.bias" is missing/);
    expect(() => prepareGenerator(cfg, { ...params, 'model.1.weight': new Float32Array(5) })).toThrow(/"model\.1\.weight" has 5 values, expected 294/);
    expect(() => prepareGenerator(cfg, { ...params, 'model.99.weight': new Float32Array(1) })).toThrow(/"model\.99\.weight" are not in a ngf 2, 1-block/);
    expect(() => prepareGenerator({ ngf: 2, nBlocks: 2 }, params)).toThrow(/model\.11\.conv_block\.1\.weight/);
    expect(() => runGenerator(g, new Float32Array(10 * 12 * 3), 10, 12)).toThrow(/multiples of 4.*10×12/);
    expect(() => runGenerator(g, new Float32Array(7), 8, 8)).toThrow(/expected 192 values/);
    expect(runGenerator(g, new Float32Array(8 * 12 * 3), 8, 12).length).toBe(8 * 12 * 3);
  });

  it('counts MACs per image: weight elements × output pixels summed over every conv, as the specs list them', () => {
    for (const [cfg, h, w] of [[{ ngf: 64, nBlocks: 9 }, 64, 64], [{ ngf: 16, nBlocks: 6 }, 64, 64], [{ ngf: 3, nBlocks: 2 }, 32, 48]] as const) {
      // Output pixels per layer by spec order: stem full size, downs 1/4 and 1/16, blocks 1/16,
      // ups (each input pixel meets every tap) 1/16 and 1/4 input pixels, head full size.
      const specs = generatorParamSpecs(cfg).filter((s) => s.kind !== 'bias');
      const pixels = [1, 1 / 4, 1 / 16, ...Array(2 * cfg.nBlocks).fill(1 / 16), 1 / 16, 1 / 4, 1].map((f) => f * h * w);
      expect(pixels.length).toBe(specs.length);
      const want = specs.reduce((sum, s, i) => sum + s.shape.reduce((a, b) => a * b, 1) * pixels[i], 0);
      expect(macsPerImage(cfg, h, w)).toBe(want);
    }
    const full = macsPerImage({ ngf: 64, nBlocks: 9 }, 64, 64);
    expect(full / 1e9).toBeCloseTo(3.097, 3);
    expect(macsPerImage({ ngf: 64, nBlocks: 9 }, 128, 128)).toBe(4 * full);
    expect(full / macsPerImage({ ngf: 16, nBlocks: 6 }, 64, 64)).toBeGreaterThan(15);
  });
});
