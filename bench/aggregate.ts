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
 */
import { parseArgs } from 'node:util';
import { isPresetName, NETWORKS, presetConfig, type NetworkName } from '../shared/model/config.ts';
import { MemoryMeter, type AggregateMode } from '../shared/rounds/aggregate.ts';
import { encodeDelta, networkLength } from '../shared/rounds/delta.ts';
import { applyConfigPatch, DEFAULT_ROUND_CONFIG } from '../shared/rounds/protocol.ts';
import { encodeCheckpoint } from '../shared/weights/checkpoint.ts';
import { specsFor } from '../shared/weights/manifest.ts';
import { memoryBlobs } from '../worker/rounds/blobs.ts';
import { buildVersion, type RoundContribution } from '../worker/rounds/build-version.ts';

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
console.log('contributions  seconds  params/s (base)  contribution-params/s  held MiB  heap MiB');
for (const n of counts) {
  const contributions = Array.from({ length: n }, (_, i) => distinct[i % distinct.length]);
  const meter = new MemoryMeter();
  global.gc?.();
  const t0 = performance.now();
  await buildVersion({ blobs, base: base.manifest, momentum: null, contributions, config: cfg, meta: { bench: n }, meter });
  const s = (performance.now() - t0) / 1000;
  console.log(
    `${String(n).padStart(13)}  ${s.toFixed(2).padStart(7)}  ${Math.round(params / s).toLocaleString().padStart(15)}  ${Math.round((params * n) / s).toLocaleString().padStart(21)}  ${mb(meter.peak).padStart(8)}  ${mb(process.memoryUsage().heapUsed).padStart(8)}`,
  );
}
