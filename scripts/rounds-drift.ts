/**
 * How much does ONE small honest contribution move a trained pair? (docs/rounds.md)
 *
 * Takes a trained checkpoint (default: the demo pair, demo/checkpoint), trains one contribution
 * exactly as a contributor does (shared/rounds/lease-training.ts, the loop `stripes contribute`
 * and the browser run) on a few in-domain images, float16-encodes the delta as the upload does,
 * applies it as a round with quorum 1 does (the aggregate of one contribution is its delta; the
 * outer step of shared/rounds/outer-optimizer.ts, momentum zero as in a pair's first round), and
 * measures on held-out images:
 *
 *   drift     mean |G(x)_new − G(x)_base| in 0–255 levels, for G_AB on held-out A and G_BA on held-out B
 *   cycle L1  mean |G_BA(G_AB(a)) − a| and |G_AB(G_BA(b)) − b| in 0–255 levels (base vs new)
 *
 * for each remedy in VARIANTS (or --only name,name). Prints a markdown table.
 *
 *   node cli/run-ts.mjs scripts/rounds-drift.ts [--checkpoint demo/checkpoint]
 *     [--a .demo-data/contrib/trainA --b .demo-data/contrib/trainB]     contributor's images
 *     [--held-a .demo-data/data/testA --held-b .demo-data/data/testB]   held-out maps
 *     [--held N (8)] [--steps 20] [--seed 1] [--only names] [--backend wasm|cpu]
 *
 * Data: scripts/demo-pair/README.md (fetch-data.sh for the held-out maps; the contributor's four
 * maps per domain are prepare.py --seed 11 --n-train 4 --per-map 1, new layouts).
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { readCheckpointDir } from '../cli/checkpoint-dir.ts';
import { useBackend } from '../cli/tf-backend.ts';
import { loadDomain, type Domain } from '../cli/train/data.ts';
import { NETWORKS, type ModelConfig, type NetworkName } from '../shared/model/config.ts';
import { generator, paramCount, type Params } from '../shared/model/index.ts';
import type { Weights } from '../shared/rounds/client.ts';
import { computeDelta, decodeDeltaShard, encodeDelta, flattenNetwork } from '../shared/rounds/delta.ts';
import { loadSizeFor, trainLease } from '../shared/rounds/lease-training.ts';
import { outerSettingsFor, outerStep, type OuterConfig } from '../shared/rounds/outer-optimizer.ts';
import { DEFAULT_ROUND_CONFIG, TrainSettingsSchema, type TrainSettings } from '../shared/rounds/protocol.ts';
import { Rng } from '../shared/train/rng.ts';
import { nextBatch, UnalignedSampler } from '../shared/train/sampling.ts';
import { decodeGroup } from '../shared/weights/checkpoint.ts';
import { specsFor } from '../shared/weights/manifest.ts';

const { values } = parseArgs({
  options: {
    checkpoint: { type: 'string', default: 'demo/checkpoint' },
    a: { type: 'string', default: '.demo-data/contrib/trainA' },
    b: { type: 'string', default: '.demo-data/contrib/trainB' },
    'held-a': { type: 'string', default: '.demo-data/data/testA' },
    'held-b': { type: 'string', default: '.demo-data/data/testB' },
    held: { type: 'string', default: '8' },
    'held-size': { type: 'string', default: '256' },
    steps: { type: 'string', default: '20' },
    seed: { type: 'string', default: '1' },
    only: { type: 'string' },
    backend: { type: 'string', default: 'wasm' },
  },
});

interface Variant {
  name: string;
  train?: Partial<TrainSettings>;
  outer?: Partial<OuterConfig['generators']>;
  correctFirstMoment?: boolean;
  steps?: number;
}

const DILOCO = DEFAULT_ROUND_CONFIG.outer.generators;
const FEDAVG = { lr: 1, momentum: 0, nesterov: false };
/** Today's lease: lr 2e-4 (schedule peak), fresh Adam, load size from the crop (72 for 64). */
const VARIANTS: Variant[] = [
  { name: 'today: lr 2e-4, load 72, outer 0.7/0.9 Nesterov', train: { lr: 2e-4, loadSize: undefined } },
  { name: 'lr 2e-4, load 128 (as trained)', train: { lr: 2e-4 } },
  { name: 'lr 2e-4, outer 1.0 no momentum', train: { lr: 2e-4 }, outer: FEDAVG },
  { name: 'lr 2e-4, outer 0.35 no momentum', train: { lr: 2e-4 }, outer: { lr: 0.35, momentum: 0, nesterov: false } },
  { name: 'lr 2e-4, warm-up 20', train: { lr: 2e-4, warmupSteps: 20 } },
  { name: 'lr 2e-4, Adam m̂ uncorrected', train: { lr: 2e-4 }, correctFirstMoment: false },
  { name: 'lr 2e-4, proximal μ 10', train: { lr: 2e-4, proximal: 10 } },
  { name: 'lr 2e-4, proximal μ 100', train: { lr: 2e-4, proximal: 100 } },
  { name: 'lr 2e-5', train: { lr: 2e-5 } },
  { name: 'lr 1e-5', train: { lr: 1e-5 } },
  { name: 'lr 2e-5, warm-up 10', train: { lr: 2e-5, warmupSteps: 10 } },
  { name: 'lr 2e-5, warm-up 10, outer 1.0 no momentum', train: { lr: 2e-5, warmupSteps: 10 }, outer: FEDAVG },
  { name: 'SGD lr 2e-3, clip 10', train: { lr: 2e-3, optimizer: 'sgd' } },
  { name: 'continued schedule: lr 1e-9 (≈ 0)', train: { lr: 1e-9 } },
  { name: 'lr 1e-5, warm-up 10, outer 1.0 no momentum', train: { lr: 1e-5, warmupSteps: 10 }, outer: FEDAVG },
  { name: 'lr 5e-6, warm-up 10, outer 1.0 no momentum', train: { lr: 5e-6, warmupSteps: 10 }, outer: FEDAVG },
  { name: 'lr 2e-5, warm-up 10, proximal μ 100, outer 1.0 no momentum', train: { lr: 2e-5, warmupSteps: 10, proximal: 100 }, outer: FEDAVG },
  { name: 'lr 2e-5, outer 0.5 no momentum', train: { lr: 2e-5 }, outer: { lr: 0.5, momentum: 0, nesterov: false } },
  { name: 'lr 2e-4, warm-up 10, outer 0.5 no momentum', train: { lr: 2e-4, warmupSteps: 10 }, outer: { lr: 0.5, momentum: 0, nesterov: false } },
  { name: 'lr 5e-6, outer 1.0 no momentum', train: { lr: 5e-6 }, outer: FEDAVG },
  { name: 'lr 5e-6, warm-up 10, outer 0.7/0.9 Nesterov', train: { lr: 5e-6, warmupSteps: 10 } },
  { name: '5 steps: lr 5e-6, warm-up 10, outer 1.0 no momentum', train: { lr: 5e-6, warmupSteps: 10 }, outer: FEDAVG, steps: 5 },
  { name: '5 steps: lr 2e-4, load 72 (today)', train: { lr: 2e-4, loadSize: undefined }, steps: 5 },
  { name: '5 steps: lr 2e-5, warm-up 10', train: { lr: 2e-5, warmupSteps: 10 }, steps: 5 },
];

const int = (k: keyof typeof values) => {
  const n = Number(values[k]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${k} must be a positive integer, got ${values[k]}`);
  return n;
};
const backend = values.backend as 'wasm' | 'cpu';
await useBackend(backend);

const dir = await readCheckpointDir(values.checkpoint!);
const config: ModelConfig = dir.manifest.config;
const base = {} as Weights;
for (const net of NETWORKS) base[net] = await decodeGroup(dir.manifest, net, (h) => dir.fetchShard(h));

const heldSize = int('held-size');
const heldA = loadDomain(values['held-a']!, '--held-a', heldSize).images.slice(0, int('held'));
const heldB = loadDomain(values['held-b']!, '--held-b', heldSize).images.slice(0, int('held'));
const domains = new Map<number, { A: Domain; B: Domain }>();
const domainsAt = (load: number) => {
  if (!domains.has(load)) domains.set(load, { A: loadDomain(values.a!, '--a', load), B: loadDomain(values.b!, '--b', load) });
  return domains.get(load)!;
};

const toUnit = (img: Uint8Array) => Float32Array.from(img, (v) => v / 127.5 - 1);

/** Outputs of G_AB on held-out A and G_BA on held-out B, and the cycle L1s, for some weights. */
async function evaluate(w: Weights): Promise<{ outAB: Float32Array[]; outBA: Float32Array[]; cycleA: number; cycleB: number }> {
  const vars = Object.fromEntries(
    (['G_AB', 'G_BA'] as const).map((net) => [net, Object.fromEntries(specsFor(net, config).map((s) => [s.name, tf.tensor(w[net][s.name], s.shape)]))]),
  ) as Record<'G_AB' | 'G_BA', Params>;
  const run = async (fwd: 'G_AB' | 'G_BA', images: Uint8Array[]) => {
    const back = fwd === 'G_AB' ? 'G_BA' : 'G_AB';
    const outs: Float32Array[] = [];
    let cyc = 0;
    for (const img of images) {
      const x = tf.tensor4d(toUnit(img), [1, heldSize, heldSize, 3]);
      const [y, c] = tf.tidy(() => {
        const y = generator(vars[fwd], config.generator, x);
        const r = generator(vars[back], config.generator, y);
        return [y, tf.mean(tf.abs(tf.sub(r, x)))];
      });
      outs.push((await y.data()) as Float32Array);
      cyc += (await c.data())[0];
      tf.dispose([x, y, c]);
    }
    return { outs, cycle: (cyc / images.length) * 127.5 };
  };
  const ab = await run('G_AB', heldA);
  const ba = await run('G_BA', heldB);
  for (const p of Object.values(vars)) tf.dispose(Object.values(p));
  return { outAB: ab.outs, outBA: ba.outs, cycleA: ab.cycle, cycleB: ba.cycle };
}

function meanAbsDiff(x: Float32Array[], y: Float32Array[]): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < x.length; i++) for (let j = 0; j < x[i].length; j++, n++) s += Math.abs(x[i][j] - y[i][j]);
  return (s / n) * 127.5;
}

function unflatten(net: NetworkName, flat: Float32Array): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  let off = 0;
  for (const s of specsFor(net, config)) {
    const n = paramCount([s]);
    out[s.name] = flat.slice(off, off + n);
    off += n;
  }
  return out;
}

const t0 = performance.now();
const baseEval = await evaluate(base);
console.log(
  `base ${values.checkpoint}: held-out cycle L1 A ${baseEval.cycleA.toFixed(2)} B ${baseEval.cycleB.toFixed(2)} levels ` +
    `(${heldA.length}+${heldB.length} maps of ${heldSize}px, ${((performance.now() - t0) / 1000).toFixed(0)} s); backend ${backend}; load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}`,
);

const only = values.only?.split(',').map((s) => s.trim());
const rows: string[] = [];
for (const v of VARIANTS.filter((v, i) => !only || only.some((o) => (/^\d+$/.test(o) ? Number(o) === i : v.name.includes(o))))) {
  const started = performance.now();
  const train = TrainSettingsSchema.parse({ ...DEFAULT_ROUND_CONFIG.train, cropSize: 64, loadSize: 128, steps: v.steps ?? int('steps'), ...v.train });
  const load = loadSizeFor(train);
  const { A, B } = domainsAt(load);
  const rng = new Rng(int('seed'));
  const sampler = new UnalignedSampler(A.images.length, B.images.length, rng);
  const batches = { next: (n: number, crop: number) => nextBatch(A, B, sampler, rng, { loadSize: load, cropSize: crop, flip: true }, n) };
  const local = await trainLease({ config, base, train, batches, seed: int('seed') * 7919 + 1, correctFirstMoment: v.correctFirstMoment });
  const outer: OuterConfig = { generators: { ...DILOCO, ...v.outer }, discriminators: { ...DILOCO, ...v.outer } };
  const next = {} as Weights;
  const norms: string[] = [];
  for (const net of NETWORKS) {
    const b = flattenNetwork(config, net, base[net]);
    const enc = await encodeDelta(computeDelta(flattenNetwork(config, net, local.weights[net]), b));
    // What the round reads back: the float16 values, concatenated shard by shard.
    const delta = new Float32Array(b.length);
    let off = 0;
    for (const s of enc.shards) {
      const d = decodeDeltaShard(s.bytes).values;
      delta.set(d, off);
      off += d.length;
    }
    const params = b.slice();
    outerStep(params, new Float32Array(b.length), delta, outerSettingsFor(outer, net));
    next[net] = unflatten(net, params);
    if (net === 'G_AB' || net === 'D_B') norms.push(`${net} ${(enc.norm / Math.sqrt(b.length)).toExponential(1)}`);
  }
  const e = await evaluate(next);
  const row = [
    v.name,
    String(local.steps),
    meanAbsDiff(e.outAB, baseEval.outAB).toFixed(2),
    meanAbsDiff(e.outBA, baseEval.outBA).toFixed(2),
    `${e.cycleA.toFixed(2)} / ${e.cycleB.toFixed(2)}`,
    norms.join(', '),
    `${((performance.now() - started) / 1000).toFixed(0)} s`,
  ];
  rows.push(`| ${row.join(' | ')} |`);
  console.log(rows.at(-1));
}
console.log(`\nbase cycle L1 (A / B): ${baseEval.cycleA.toFixed(2)} / ${baseEval.cycleB.toFixed(2)} levels`);
console.log('| variant | steps | drift G_AB | drift G_BA | cycle L1 A / B | rms δ per weight | time |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(r);
