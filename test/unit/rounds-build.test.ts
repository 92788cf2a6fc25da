import { describe, expect, it } from 'vitest';
import { NETWORKS, presetConfig, type NetworkName } from '../../shared/model/config.ts';
import { aggregateArrays, MemoryMeter } from '../../shared/rounds/aggregate.ts';
import { decodeDeltaShard, encodeDelta, flattenNetwork, networkLength } from '../../shared/rounds/delta.ts';
import { outerStep } from '../../shared/rounds/outer-optimizer.ts';
import { applyConfigPatch, DEFAULT_ROUND_CONFIG, type RoundConfig } from '../../shared/rounds/protocol.ts';
import { encodeCheckpoint, decodeGroup } from '../../shared/weights/checkpoint.ts';
import { specsFor } from '../../shared/weights/manifest.ts';
import { memoryBlobs } from '../../worker/rounds/blobs.ts';
import { buildVersion, type RoundContribution } from '../../worker/rounds/build-version.ts';

// Small shards so every network spans several, and slices cross float16 shard boundaries.
const SHARD = 1024;
const cfg = presetConfig('tiny');

function rand(seed: number) {
  let s = seed >>> 0 || 1;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32 - 0.5);
}

async function setup(n: number, roundCfg: RoundConfig) {
  const blobs = memoryBlobs();
  const r = rand(7);
  const nets = Object.fromEntries(
    NETWORKS.map((net) => [net, Object.fromEntries(specsFor(net, cfg).map((s) => [s.name, Float32Array.from({ length: s.shape.reduce((a, b) => a * b, 1) }, () => r() * 0.2)]))]),
  );
  const base = await encodeCheckpoint(cfg, nets, { maxShardBytes: SHARD, float16Variants: ['G_AB'] });
  for (const [h, b] of base.shards) await blobs.put(h, b);
  const deltas: Record<string, Float32Array[]> = {};
  const contributions: RoundContribution[] = [];
  for (let i = 0; i < n; i++) {
    const c: RoundContribution = { samples: 1 + i, norms: {} as Record<NetworkName, number>, shards: {} as Record<NetworkName, string[]> };
    for (const net of NETWORKS) {
      const d = Float32Array.from({ length: networkLength(cfg, net) }, () => r() * 1e-3 * (i === 0 ? 30 : 1));
      const enc = await encodeDelta(d, SHARD);
      for (const s of enc.shards) await blobs.put(s.hash, s.bytes);
      c.norms[net] = enc.norm;
      c.shards[net] = enc.shards.map((s) => s.hash);
      (deltas[net] ??= []).push(decodeDeltaShard(new Uint8Array(concat(enc.shards))).values);
    }
    contributions.push(c);
  }
  return { blobs, base, nets, deltas, contributions, roundCfg };
}
function concat(shards: Array<{ bytes: Uint8Array }>): Uint8Array {
  const out = new Uint8Array(shards.reduce((s, x) => s + x.bytes.byteLength, 0));
  let o = 0;
  for (const s of shards) {
    out.set(s.bytes, o);
    o += s.bytes.byteLength;
  }
  return out;
}

describe('building the next version from a closed round', () => {
  for (const mode of ['mean', 'trimmed-mean', 'centred-clip'] as const) {
    it(`${mode}: equals aggregating whole arrays then one outer step, and is the same bytes when run twice`, async () => {
      const roundCfg = applyConfigPatch(DEFAULT_ROUND_CONFIG, { aggregation: { mode, trimFraction: 0.2 }, outer: { discriminators: { lr: 0.5, momentum: 0.8, nesterov: false } } });
      const s = await setup(5, roundCfg);
      const build = () =>
        buildVersion({ blobs: s.blobs, base: s.base.manifest, momentum: null, contributions: s.contributions, config: roundCfg, meta: { round: 1 }, maxShardBytes: SHARD, budgetBytes: 4096 });
      const out = await build();
      expect(JSON.stringify((await build()).manifest)).toBe(JSON.stringify(out.manifest));
      for (const net of NETWORKS) {
        const baseFlat = flattenNetwork(cfg, net, s.nets[net]);
        const norms = s.deltas[net].map((d) => Math.hypot(...d));
        const clip = mode === 'centred-clip' ? Infinity : 2 * [...norms].sort((a, b) => a - b)[2];
        const agg = await aggregateArrays(s.deltas[net], [1, 2, 3, 4, 5], { mode, clip, trimFraction: 0.2 });
        const want = baseFlat.slice();
        const settings = net.startsWith('G') ? roundCfg.outer.generators : roundCfg.outer.discriminators;
        outerStep(want, new Float32Array(want.length), agg, settings);
        const got = flattenNetwork(cfg, net, await decodeGroup(out.manifest, net, (h) => s.blobs.get(h)));
        let worst = 0;
        for (let j = 0; j < want.length; j++) worst = Math.max(worst, Math.abs(got[j] - want[j]));
        expect(worst).toBeLessThan(1e-7);
        expect(out.manifest.groups[net]!.paths.length).toBe(s.base.manifest.groups[net]!.paths.length);
      }
      // The float16 download copy follows the new float32 master.
      const half = await decodeGroup(out.manifest, 'G_AB', (h) => s.blobs.get(h), { variant: 'float16' });
      const full = await decodeGroup(out.manifest, 'G_AB', (h) => s.blobs.get(h));
      const name = specsFor('G_AB', cfg)[0].name;
      expect(Math.abs(half[name][3] - full[name][3])).toBeLessThan(1e-3);
    });
  }

  it('feeds the momentum of one round into the next, as torch SGD does over two steps', async () => {
    const s = await setup(3, DEFAULT_ROUND_CONFIG);
    const r1 = await buildVersion({ blobs: s.blobs, base: s.base.manifest, momentum: null, contributions: s.contributions, config: DEFAULT_ROUND_CONFIG, meta: {}, maxShardBytes: SHARD });
    const r2 = await buildVersion({ blobs: s.blobs, base: r1.manifest, momentum: r1.momentum, contributions: s.contributions, config: DEFAULT_ROUND_CONFIG, meta: {}, maxShardBytes: SHARD });
    const net = 'D_B';
    const norms = s.deltas[net].map((d) => Math.hypot(...d));
    const clip = 2 * [...norms].sort((a, b) => a - b)[1];
    const agg = await aggregateArrays(s.deltas[net], [1, 2, 3], { mode: 'mean', clip });
    const want = flattenNetwork(cfg, net, s.nets[net]);
    const mom = new Float32Array(want.length);
    outerStep(want, mom, agg, DEFAULT_ROUND_CONFIG.outer.discriminators);
    outerStep(want, mom, agg, DEFAULT_ROUND_CONFIG.outer.discriminators);
    const got = flattenNetwork(cfg, net, await decodeGroup(r2.manifest, net, (h) => s.blobs.get(h)));
    let worst = 0;
    for (let j = 0; j < want.length; j++) worst = Math.max(worst, Math.abs(got[j] - want[j]));
    expect(worst).toBeLessThan(1e-7);
  });

  it('holds the same few buffers whether 2 or 16 contributions are combined', async () => {
    const peaks = [];
    for (const n of [2, 16]) {
      const s = await setup(n, DEFAULT_ROUND_CONFIG);
      const meter = new MemoryMeter();
      await buildVersion({ blobs: s.blobs, base: s.base.manifest, momentum: null, contributions: s.contributions, config: DEFAULT_ROUND_CONFIG, meta: {}, maxShardBytes: SHARD, meter });
      expect(meter.live).toBe(0);
      peaks.push(meter.peak);
    }
    expect(peaks[1]).toBe(peaks[0]);
    // Base and momentum shard (f32), the accumulator (f64) and one contributor slice (f32).
    expect(peaks[0]).toBeLessThanOrEqual(SHARD * 2 + (SHARD / 4) * (8 + 4));
  });
});
