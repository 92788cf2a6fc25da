/**
 * Round aggregation benchmark: how fast the worker's streaming aggregation (build-version.ts:
 * read float16 deltas by range, combine, outer Nesterov step, write float32 + momentum + float16
 * shards) turns N contributions into the next version, and how much it holds at once.
 *
 *   node cli/run-ts.mjs bench/aggregate.ts [--preset full|small|tiny] [--counts 2,8,32] [--mode mean|trimmed-mean|centred-clip]
 *
 * Runs in Node on an in-memory shard store, so it measures the arithmetic, hashing and buffer
 * traffic, not R2 latency; the Workers runtime adds the network. "Held" is what the aggregator
 * and builder keep at once (MemoryMeter), which is what must fit a 128 MB isolate; the heap
 * figure also counts this benchmark's own inputs. Contributors cycle through 4 distinct deltas to
 * keep the inputs small; every contribution is still read and combined separately.
 *
 * "Commit → current" times the path PairRound.alarm() takes after the last commit, on the same
 * code and the same in-memory store: one network per alarm (buildNetworks for G_AB, G_BA, D_A,
 * D_B in turn), then assembleVersion; "slowest alarm" is the largest of those four, which is
 * what must fit a Durable Object's 30 s CPU budget. Not included (Workers runtime only): the alarm
 * dispatch between networks, the DO storage writes of progress, R2 latency and the D1
 * declare/commit that moves `current`. The manifest must equal the one-shot build's.
 */
import { parseArgs } from 'node:util';
import { isPresetName, NETWORKS, presetConfig, type NetworkName } from '../shared/model/config.ts';
import { MemoryMeter, type AggregateMode } from '../shared/rounds/aggregate.ts';
import { encodeDelta, networkLength } from '../shared/rounds/delta.ts';
import { applyConfigPatch, DEFAULT_ROUND_CONFIG } from '../shared/rounds/protocol.ts';
import { encodeCheckpoint } from '../shared/weights/checkpoint.ts';
import { specsFor } from '../shared/weights/manifest.ts';
import { memoryBlobs } from '../worker/rounds/blobs.ts';
import { assembleVersion, buildNetworks, buildVersion, type BuildInput, type NetworkParts, type RoundContribution } from '../worker/rounds/build-version.ts';

const { values } = parseArgs({
  options: { preset: { type: 'string', default: 'full' }, counts: { type: 'string', default: '2,8,32' }, mode: { type: 'string', default: 'mean' } },
});
if (!isPresetName(values.preset!)) throw new Error(`--preset must be full, small or tiny, got ${values.preset}`);
const mode = values.mode as AggregateMode;
const counts = values.counts!.split(',').map(Number);
const config = presetConfig(values.preset);

function fill(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32 - 0.5) * scale;
  return out;
}

const mb = (b: number) => (b / 2 ** 20).toFixed(1);
const blobs = memoryBlobs();
const params = NETWORKS.reduce((s, n) => s + networkLength(config, n), 0);
console.log(`preset ${values.preset}: ${params.toLocaleString()} parameters in 4 networks (${mb(params * 4)} MiB float32), mode ${mode}`);

const weights = Object.fromEntries(
  NETWORKS.map((net, k) => [net, Object.fromEntries(specsFor(net, config).map((s, j) => [s.name, fill(s.shape.reduce((a, b) => a * b, 1), 1 + k * 1000 + j, 0.1)]))]),
);
const base = await encodeCheckpoint(config, weights);
for (const [h, b] of base.shards) await blobs.put(h, b);

const distinct: RoundContribution[] = [];
for (let i = 0; i < 4; i++) {
  const c: RoundContribution = { samples: 50, norms: {} as Record<NetworkName, number>, shards: {} as Record<NetworkName, string[]> };
  for (const net of NETWORKS) {
    const enc = await encodeDelta(fill(networkLength(config, net), 77 + i * 10 + net.length, 1e-3));
    for (const s of enc.shards) await blobs.put(s.hash, s.bytes);
    c.norms[net] = enc.norm;
    c.shards[net] = enc.shards.map((s) => s.hash);
  }
  distinct.push(c);
}

const cfg = applyConfigPatch(DEFAULT_ROUND_CONFIG, { aggregation: { mode } });
/** The DO's path: a network per alarm, then the manifest; returns its total and slowest step in seconds. */
async function alarmPath(input: BuildInput): Promise<{ total: number; slowest: number; manifest: string }> {
  const parts: NetworkParts = {};
  let slowest = 0;
  const t0 = performance.now();
  for (const net of NETWORKS) {
    const t = performance.now();
    Object.assign(parts, await buildNetworks(input, [net]));
    slowest = Math.max(slowest, performance.now() - t);
  }
  const built = assembleVersion(input.base, parts, input.meta);
  return { total: (performance.now() - t0) / 1000, slowest: slowest / 1000, manifest: JSON.stringify(built.manifest) };
}

console.log('contributions  seconds  params/s (base)  contribution-params/s  held MiB  heap MiB  commit→current s  slowest alarm s');
for (const n of counts) {
  const contributions = Array.from({ length: n }, (_, i) => distinct[i % distinct.length]);
  const meter = new MemoryMeter();
  global.gc?.();
  const input: BuildInput = { blobs, base: base.manifest, momentum: null, contributions, config: cfg, meta: { bench: n }, meter };
  const t0 = performance.now();
  const oneShot = await buildVersion(input);
  const s = (performance.now() - t0) / 1000;
  global.gc?.();
  const path = await alarmPath({ ...input, meter: new MemoryMeter() });
  if (path.manifest !== JSON.stringify(oneShot.manifest)) throw new Error(`${n} contributions: the per-alarm build gave a different manifest than the one-shot build`);
  console.log(
    `${String(n).padStart(13)}  ${s.toFixed(2).padStart(7)}  ${Math.round(params / s).toLocaleString().padStart(15)}  ${Math.round((params * n) / s).toLocaleString().padStart(21)}  ${mb(meter.peak).padStart(8)}  ${mb(process.memoryUsage().heapUsed).padStart(8)}  ${path.total.toFixed(2).padStart(16)}  ${path.slowest.toFixed(2).padStart(15)}`,
  );
}
