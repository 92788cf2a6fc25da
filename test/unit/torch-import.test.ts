import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generatorParamSpecs } from '../../shared/model/param-specs.ts';
import { readSafetensors } from '../../shared/weights/safetensors.ts';
import { importTorchGenerators, torchToStripes, type TorchTensor } from '../../shared/weights/torch-import.ts';

// Fixtures by scripts/make_import_fixtures.py: reference state_dicts (PyTorch layout) and the same
// parameters permuted by PyTorch into Stripes layout.
const dir = new URL('../fixtures/torch-import/', import.meta.url);
const load = (name: string) => readSafetensors(readFileSync(new URL(name, dir)), name).tensors;

function withChanges(src: Map<string, TorchTensor>, change: (m: Map<string, TorchTensor>) => void) {
  const m = new Map(src);
  change(m);
  return m;
}

describe('import of reference PyTorch generators', () => {
  it('converts an F32 state_dict to exactly the layout PyTorch permutes it into, inferring ngf and blocks', () => {
    const { config, params } = torchToStripes(load('G_AB.f32.safetensors'));
    expect(config).toEqual({ ngf: 8, nBlocks: 3 });
    const want = load('G_AB.stripes.safetensors');
    expect(Object.keys(params)).toEqual(generatorParamSpecs(config).map((s) => s.name));
    for (const [k, v] of want) expect(params[k], k).toEqual(v.data);
  });

  it('widens an F16 state_dict to the values PyTorch widens it to', () => {
    const { params } = torchToStripes(load('G_BA.f16.safetensors'));
    for (const [k, v] of load('G_BA.stripes.safetensors')) expect(params[k], k).toEqual(v.data);
  });

  it('builds a pair config with the paper discriminator, for training to add D_A/D_B later', () => {
    const r = importTorchGenerators({ tensors: load('G_AB.f32.safetensors'), what: 'a' }, { tensors: load('G_BA.f16.safetensors'), what: 'b' });
    expect(r.config).toEqual({ generator: { ngf: 8, nBlocks: 3 }, discriminator: { ndf: 64, nLayers: 3 } });
    expect(Object.keys(r.networks)).toEqual(['G_AB', 'G_BA']);
  });

  it("drops the InstanceNorm running stats old checkpoints carry, as the reference's loader does", () => {
    const t = withChanges(load('G_AB.f32.safetensors'), (m) => {
      m.set('model.2.running_mean', { shape: [8], data: new Float32Array(8) });
      m.set('model.2.num_batches_tracked', { shape: [], data: new Float32Array(1) });
    });
    expect(Object.keys(torchToStripes(t).params)).toHaveLength(24);
  });

  it('lists missing and unexpected keys beside the expected ones', () => {
    const t = withChanges(load('G_AB.f32.safetensors'), (m) => {
      m.delete('model.16.bias');
      m.set('model.99.weight', { shape: [1], data: new Float32Array(1) });
    });
    expect(() => torchToStripes(t, 'x.safetensors')).toThrow(
      /^x\.safetensors: keys do not match a ResnetGenerator with ngf 8 and 3 blocks: missing model\.16\.bias; unexpected model\.99\.weight \(expected model\.1\.weight, model\.1\.bias, .*model\.20\.bias\)$/,
    );
  });

  it('names a tensor whose shape disagrees with the inferred ngf', () => {
    const t = withChanges(load('G_AB.f32.safetensors'), (m) => {
      m.set('model.4.weight', { shape: [32, 16, 3, 3], data: new Float32Array(32 * 16 * 9) });
    });
    expect(() => torchToStripes(t)).toThrow('"model.4.weight" has shape [32,16,3,3], expected [16,8,3,3] for ngf 8');
  });

  it('says a file without the stem conv is not a ResnetGenerator', () => {
    const t = new Map<string, TorchTensor>([['fc.weight', { shape: [2, 2], data: new Float32Array(4) }]]);
    expect(() => torchToStripes(t, 'y')).toThrow('y: no "model.1.weight", so not a reference ResnetGenerator state_dict (it has fc.weight)');
  });

  it('refuses a G_BA whose architecture differs from G_AB', () => {
    const ab = load('G_AB.f32.safetensors');
    const ba = new Map<string, TorchTensor>();
    for (const s of generatorParamSpecs({ ngf: 4, nBlocks: 3 })) {
      const shape = s.shape.length === 4 ? [s.shape[3], s.shape[2], s.shape[0], s.shape[1]] : s.shape;
      ba.set(s.name, { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
    }
    expect(() => importTorchGenerators({ tensors: ab, what: 'ab' }, { tensors: ba, what: 'ba' })).toThrow(
      'ba (G_BA) has ngf 4 and 3 blocks but ab (G_AB) has ngf 8 and 3',
    );
  });
});
