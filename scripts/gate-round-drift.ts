/**
 * How far an honest community round moves the gate's metrics: continues the demo pair
 * (demo/checkpoint, all four networks) for a few CycleGAN iterations, as a contributor's local
 * training would (fresh Adam, the paper's lr 2e-4, batch 1, random 64×64 crops of the demo's
 * sample maps), then measures base and continued versions with the gate on held-out 64×64 tiles
 * and prints the ratios and the verdict. docs/gate.md quotes its output.
 *
 *   node cli/run-ts.mjs scripts/gate-round-drift.ts [--steps 30] [--runs 2] [--png DIR]
 *
 * With --png, writes DIR/run-N.png per run: rows are 6 validation A tiles, the base's G_AB of
 * them, the candidate's; then the same for B through G_BA.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor4D } from '@tensorflow/tfjs-core';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { decodeImage, encodePng } from '../cli/image-io.ts';
import { useBackend } from '../cli/tf-backend.ts';
import { evaluatePair, judge, prepareGenerator, runGenerator, swdReference, type GateMetrics, type ValidationSet } from '../shared/gate/index.ts';
import { NETWORKS } from '../shared/model/config.ts';
import { createCycleGAN, disposeCycleGAN, exportWeights, type NetworkWeights } from '../shared/train/cyclegan.ts';
import { ImagePool } from '../shared/train/image-pool.ts';
import { Rng } from '../shared/train/rng.ts';
import { toUnit } from '../shared/train/sampling.ts';
import { trainStep } from '../shared/train/train-step.ts';
import { decodeGroup } from '../shared/weights/checkpoint.ts';
import { validateManifest } from '../shared/weights/manifest.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const steps = arg('steps', 30);
const pngI = process.argv.indexOf('--png');
const pngDir = pngI >= 0 ? process.argv[pngI + 1] : undefined;
const runs = arg('runs', 2);
const root = new URL('../', import.meta.url);
await useBackend('wasm');

const maps = (domain: string) => [1, 2, 3].map((i) => decodeImage(readFileSync(new URL(`demo/samples/${domain}-${i}-before.png`, root))));
const mapsA = maps('summer-to-winter');
const mapsB = maps('winter-to-summer');
const crop = (img: { data: Uint8Array; width: number }, ty: number, tx: number) => {
  const t = new Float32Array(64 * 64 * 3);
  for (let y = 0; y < 64; y++) for (let j = 0; j < 192; j++) t[y * 192 + j] = toUnit(img.data[((ty + y) * img.width + tx) * 3 + j]);
  return t;
};
// Validation: the 16 tiles of the 64-grid at odd positions; training crops are drawn anywhere.
const grid = (ms: typeof mapsA): Float32Array[] => ms.flatMap((m) => [[0, 64], [64, 0], [64, 128], [128, 64], [128, 192], [192, 128]].map(([y, x]) => crop(m, y, x))).slice(0, 16);
const valA: ValidationSet = { count: 16, height: 64, width: 64, images: grid(mapsA) };
const valB: ValidationSet = { count: 16, height: 64, width: 64, images: grid(mapsB) };
const refA = swdReference(valA.images, 64, 64);
const refB = swdReference(valB.images, 64, 64);

const manifest = validateManifest(JSON.parse(readFileSync(new URL('demo/checkpoint/manifest.json', root), 'utf8')));
const shard = async (h: string) => new Uint8Array(readFileSync(new URL(`demo/checkpoint/shards/${h}`, root)));
const weights = {} as NetworkWeights;
for (const net of NETWORKS) weights[net] = await decodeGroup(manifest, net, shard);
const cfg = manifest.config;

const base = evaluatePair(cfg.generator, weights.G_AB, weights.G_BA, valA, valB, { refA, refB });
const show = (m: GateMetrics) =>
  (['cycleA', 'cycleB', 'realismAB', 'realismBA', 'spreadAB', 'spreadBA', 'variationAB', 'variationBA'] as const).map((k) => `${k} ${m[k].toFixed(4)}`).join(' ');
console.log(`base: ${show(base)}`);

for (let run = 0; run < runs; run++) {
  const rng = new Rng(100 + run);
  const model = createCycleGAN(cfg, { weights });
  const pools = { A: new ImagePool(50, () => rng.random()), B: new ImagePool(50, () => rng.random()) };
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) {
    const pick = (ms: typeof mapsA) => crop(ms[rng.int(3)], rng.int(256 - 64 + 1), rng.int(256 - 64 + 1));
    const a = tf.tensor4d(pick(mapsA), [1, 64, 64, 3]);
    const b = tf.tensor4d(pick(mapsB), [1, 64, 64, 3]);
    await trainStep(model, pools, a as Tensor4D, b as Tensor4D, { lr: 2e-4 });
    tf.dispose([a, b]);
  }
  const w = await exportWeights(model);
  disposeCycleGAN(model);
  const cand = evaluatePair(cfg.generator, w.G_AB, w.G_BA, valA, valB, { refA, refB });
  const r = (k: keyof GateMetrics) => ((cand[k] as number) / (base[k] as number)).toFixed(3);
  const v = judge(cand, base);
  if (pngDir) {
    // 6 tiles a row, 64 px each: A, base G_AB(A), candidate G_AB(A), B, base G_BA(B), candidate G_BA(B).
    const rows: Float32Array[][] = [];
    for (const [val, gBase, gCand] of [
      [valA, weights.G_AB, w.G_AB],
      [valB, weights.G_BA, w.G_BA],
    ] as const) {
      const xs = val.images.slice(0, 6);
      const pb = prepareGenerator(cfg.generator, gBase);
      const pc = prepareGenerator(cfg.generator, gCand);
      rows.push(xs, xs.map((x) => runGenerator(pb, x, 64, 64)), xs.map((x) => runGenerator(pc, x, 64, 64)));
    }
    const W = 6 * 64;
    const data = new Uint8Array(rows.length * 64 * W * 3);
    rows.forEach((row, r) =>
      row.forEach((img, c) => {
        for (let y = 0; y < 64; y++)
          for (let i = 0; i < 192; i++)
            data[((r * 64 + y) * W + c * 64) * 3 + i] = Math.max(0, Math.min(255, Math.round(((img[y * 192 + i] + 1) / 2) * 255)));
      }),
    );
    mkdirSync(pngDir, { recursive: true });
    writeFileSync(`${pngDir}/run-${run}-${steps}.png`, encodePng({ width: W, height: rows.length * 64, data }));
  }
  console.log(
    `run ${run} (${steps} steps, ${((performance.now() - t0) / 1000).toFixed(0)} s): ratios cycleA ${r('cycleA')} cycleB ${r('cycleB')} realismAB ${r('realismAB')} realismBA ${r('realismBA')} ` +
      `spreadAB ${r('spreadAB')} spreadBA ${r('spreadBA')} variationAB ${r('variationAB')} variationBA ${r('variationBA')} → ${v.pass ? 'pass' : 'FAIL: ' + v.reasons.join(' ')}`,
  );
}
