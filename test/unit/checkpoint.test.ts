import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { presetConfig, type NetworkName } from '../../shared/model/config.ts';
import { decodeGroup, encodeCheckpoint, type NetworkParams } from '../../shared/weights/checkpoint.ts';
import { float16ToFloat32, float32ToFloat16 } from '../../shared/weights/float16.ts';
import { specsFor, validateManifest } from '../../shared/weights/manifest.ts';

const config = presetConfig('tiny');

/** Deterministic values spread over several magnitudes, so byte order mistakes show. */
function paramsFor(net: NetworkName, seed: number): NetworkParams {
  let s = seed;
  const out: NetworkParams = {};
  for (const spec of specsFor(net, config)) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      v[i] = ((s / 2 ** 32) * 2 - 1) * 10 ** ((s % 5) - 3);
    }
    out[spec.name] = v;
  }
  return out;
}

const nets = { G_AB: paramsFor('G_AB', 1), G_BA: paramsFor('G_BA', 2), D_A: paramsFor('D_A', 3), D_B: paramsFor('D_B', 4) };

function store(shards: Map<string, Uint8Array>, log: string[] = []) {
  return async (hash: string) => {
    log.push(hash);
    const b = shards.get(hash);
    if (!b) throw new Error(`no shard ${hash}`);
    return new Uint8Array(b);
  };
}

describe('checkpoint encoding', () => {
  it('round-trips every network exactly, with tensors spanning shard boundaries', async () => {
    const max = 1000;
    const { manifest, shards } = await encodeCheckpoint(config, nets, { maxShardBytes: max });
    // The test means something only if some tensor really straddles a cut.
    let off = 0;
    let spans = 0;
    for (const w of manifest.groups.G_AB!.weights) {
      const len = w.shape.reduce((a, b) => a * b, 1) * 4;
      if (Math.floor(off / max) !== Math.floor((off + len - 1) / max)) spans++;
      off += len;
    }
    expect(spans).toBeGreaterThan(0);
    expect(manifest.groups.G_AB!.paths.length).toBeGreaterThan(1);
    for (const net of ['G_AB', 'G_BA', 'D_A', 'D_B'] as const) {
      const back = await decodeGroup(manifest, net, store(shards));
      expect(Object.keys(back)).toEqual(specsFor(net, config).map((s) => s.name));
      for (const [k, v] of Object.entries(nets[net])) expect(back[k]).toEqual(v);
    }
  });

  it('names shards by the SHA-256 of their bytes, writes a manifest the validator accepts, and caps shard size', async () => {
    const { manifest, shards } = await encodeCheckpoint(config, nets, { maxShardBytes: 4096 });
    expect(validateManifest(JSON.parse(JSON.stringify(manifest)))).toEqual(manifest);
    for (const [hash, bytes] of shards) {
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(hash);
      expect(bytes.byteLength).toBeLessThanOrEqual(4096);
    }
    // Generators get a float16 copy by default, discriminators do not.
    expect(Object.keys(manifest.variants!.float16!)).toEqual(['G_AB', 'G_BA']);
  });

  it('fetches only the shards of the group it decodes', async () => {
    const { manifest, shards } = await encodeCheckpoint(config, nets, { maxShardBytes: 1000 });
    const log: string[] = [];
    await decodeGroup(manifest, 'G_BA', store(shards, log));
    expect(new Set(log)).toEqual(new Set(manifest.groups.G_BA!.paths));
  });

  it('decodes the float16 variant to the float16-rounded values', async () => {
    const { manifest, shards } = await encodeCheckpoint(config, { G_AB: nets.G_AB }, { maxShardBytes: 1000 });
    const back = await decodeGroup(manifest, 'G_AB', store(shards), { variant: 'float16' });
    let worst = 0;
    for (const [k, v] of Object.entries(nets.G_AB)) {
      expect(back[k]).toEqual(float16ToFloat32(float32ToFloat16(v)));
      for (let i = 0; i < v.length; i++) worst = Math.max(worst, Math.abs(back[k][i] - v[i]) / Math.max(Math.abs(v[i]), 2 ** -14));
    }
    expect(worst).toBeLessThanOrEqual(2 ** -11);
    expect(worst).toBeGreaterThan(0);
  });

  it('rejects a shard whose bytes do not match its hash, naming the shard', async () => {
    const { manifest, shards } = await encodeCheckpoint(config, { G_AB: nets.G_AB }, { maxShardBytes: 1000 });
    const bad = manifest.groups.G_AB!.paths[2];
    const fetch = async (h: string) => {
      const b = new Uint8Array(shards.get(h)!);
      if (h === bad) b[17] ^= 1;
      return b;
    };
    await expect(decodeGroup(manifest, 'G_AB', fetch)).rejects.toThrow(`shard ${bad} is corrupt`);
  });

  it('rejects a shard of the wrong size, naming the shard and both sizes', async () => {
    const { manifest, shards } = await encodeCheckpoint(config, { G_AB: nets.G_AB }, { maxShardBytes: 1000 });
    const bad = manifest.groups.G_AB!.paths[1];
    const fetch = async (h: string) => (h === bad ? shards.get(h)!.subarray(0, 999) : shards.get(h)!);
    await expect(decodeGroup(manifest, 'G_AB', fetch)).rejects.toThrow(`G_AB: shard ${bad} has 999 bytes, the manifest says 1000`);
  });

  it('says which groups exist when asked for an absent one', async () => {
    const { manifest, shards } = await encodeCheckpoint(config, { G_AB: nets.G_AB });
    await expect(decodeGroup(manifest, 'D_A', store(shards))).rejects.toThrow('checkpoint has no D_A group (it holds G_AB)');
  });

  it('refuses parameters that do not match the config, listing missing and unexpected names', async () => {
    const broken = { ...nets.G_AB, 'model.99.weight': new Float32Array(1) } as NetworkParams;
    delete broken['model.1.bias'];
    await expect(encodeCheckpoint(config, { G_AB: broken })).rejects.toThrow(
      /G_AB: parameters do not match the config: missing model\.1\.bias; unexpected model\.99\.weight \(expected model\.1\.weight, model\.1\.bias/,
    );
    const short = { ...nets.G_AB, 'model.1.bias': new Float32Array(3) };
    await expect(encodeCheckpoint(config, { G_AB: short })).rejects.toThrow('"model.1.bias" has 3 values, shape [4] needs 4');
  });
});
