/**
 * The quality gate's cost per candidate (worker/rounds/gate-runner.ts), for the `small` and `full`
 * presets: 8 validation images per domain at 64×64, each translated and cycled back (4 generator
 * forwards per image pair), plus the patch-statistics distances. The gate runs in the round's
 * Durable Object in plain TypeScript (shared/gate/forward.ts); its peer, timed alternately on the
 * same weights and image, is the project's TF.js generator on tfjs-backend-wasm (one thread), what
 * `stripes translate` runs. Outputs are compared first.
 *
 *   node cli/run-ts.mjs bench/gate.ts [--reps N] [--json FILE]
 */
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { macsPerImage, prepareGenerator, runGenerator, type GeneratorParams } from '../shared/gate/forward.ts';
import { combineDirections, directionMetrics, translateAndCycle } from '../shared/gate/judge.ts';
import { swdReference } from '../shared/gate/metrics.ts';
import { PRESETS, type PresetName } from '../shared/model/config.ts';
import { generator } from '../shared/model/generator.ts';
import { generatorParamSpecs } from '../shared/model/param-specs.ts';
import { Rng } from '../shared/train/rng.ts';
import { useBackend } from '../cli/tf-backend.ts';
import { median } from './lib/stats.ts';
import { formatLoad, sampleLoad } from './lib/load.ts';
import type { BenchTable } from './lib/table.ts';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const reps = Number(arg('reps', '3'));
const jsonOut = arg('json', '');
const SIDE = 64;
const IMAGES = 8;

await useBackend('wasm');
const rng = new Rng(1);
const load = sampleLoad();
const rows: string[][] = [];
const data: Record<string, unknown> = {};

for (const preset of ['small', 'full'] as PresetName[]) {
  const cfg = PRESETS[preset].generator;
  const params: GeneratorParams = {};
  for (const s of generatorParamSpecs(cfg)) params[s.name] = Float32Array.from({ length: s.shape.reduce((a, b) => a * b, 1) }, () => (rng.random() - 0.5) * 0.1);
  const g = prepareGenerator(cfg, params);
  const x = Float32Array.from({ length: SIDE * SIDE * 3 }, () => rng.random() * 2 - 1);
  const tfParams = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, tf.tensor(v, generatorParamSpecs(cfg).find((s) => s.name === k)!.shape)]));
  const tfForward = () =>
    tf.tidy(() => {
      const y = generator(tfParams as never, cfg, tf.tensor4d(x, [1, SIDE, SIDE, 3]));
      return y.dataSync() as Float32Array;
    });

  // Same numbers first.
  const a = runGenerator(g, x, SIDE, SIDE);
  const b = tfForward();
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  if (!(worst < 1e-3)) throw new Error(`${preset}: gate forward and tfjs-wasm disagree by ${worst}`);

  const js: number[] = [];
  const wasm: number[] = [];
  for (let r = 0; r < reps; r++) {
    let t = performance.now();
    runGenerator(g, x, SIDE, SIDE);
    js.push(performance.now() - t);
    t = performance.now();
    tfForward();
    wasm.push(performance.now() - t);
  }

  // One whole candidate: every image translated and cycled, both directions, and the metrics.
  const images = Array.from({ length: IMAGES }, () => Float32Array.from({ length: SIDE * SIDE * 3 }, () => rng.random() * 2 - 1));
  const t0 = performance.now();
  const refA = swdReference(images, SIDE, SIDE);
  const ab = images.map((im) => translateAndCycle(g, g, im, SIDE, SIDE));
  const ba = images.map((im) => translateAndCycle(g, g, im, SIDE, SIDE));
  combineDirections(directionMetrics(ab, refA), directionMetrics(ba, refA));
  const candidateS = (performance.now() - t0) / 1000;

  const macs = macsPerImage(cfg, SIDE, SIDE);
  const mJs = median(js);
  const mWasm = median(wasm);
  const steps = Math.ceil((4 * IMAGES * macs) / 4e9) + 4;
  rows.push([
    `${preset} (ngf ${cfg.ngf}, ${cfg.nBlocks} blocks)`,
    `${mJs.toFixed(0)} ms`,
    `${mWasm.toFixed(0)} ms`,
    `${(mJs / mWasm).toFixed(2)}×`,
    `${candidateS.toFixed(1)} s`,
    `${(2 * candidateS).toFixed(1)} s`,
    String(steps),
  ]);
  data[preset] = { macs, jsMs: js, wasmMs: wasm, candidateS, maxAbsDiff: worst };
  tf.dispose(Object.values(tfParams));
}

const table: BenchTable = {
  id: 'gate',
  title: `Quality gate per candidate (bench/gate.ts: ${IMAGES} validation images per domain at ${SIDE}×${SIDE}, median of ${reps})`,
  columns: ['generator', 'forward, gate (JS)', 'forward, tfjs-wasm 1T', 'JS / wasm', 'candidate (base cached)', 'candidate + base', 'alarm steps ≤ 4 GMAC'],
  rows,
  notes: [
    `the gate runs in the Durable Object in plain TypeScript (no wasm there); tfjs-wasm is the peer on the same weights, outputs agree within 1e-3; ${formatLoad(load)}`,
    'a candidate is 4 forwards per image pair (translate and cycle back, both directions) plus the patch-statistics distances; the base is measured once and reused while it stays current',
  ],
  data,
};
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(table, null, 2) + '\n');
else console.log(JSON.stringify(table, null, 2));
