/**
 * Training on every core: one CycleGAN iteration (batch 1, the reference's optimize_parameters)
 * on one thread (`trainStep`) beside the same iteration split across N worker threads
 * (cli/train/parallel.ts), interleaved, from the same weights and images. The two give the same
 * numbers bit for bit (test/cli/train-threads.test.ts); this measures the iteration rate.
 *
 *   node cli/run-ts.mjs bench/train-threads.ts [--quick] [--threads N] [--cases small@64,full@128] [--json FILE]
 */
import * as tf from '@tensorflow/tfjs-core';
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import type { Tensor4D } from '@tensorflow/tfjs-core';
import { useBackend } from '../cli/tf-backend.ts';
import { ParallelCycleGAN, threadSchedTimes } from '../cli/train/parallel.ts';
import { MAX_TRAIN_THREADS } from '../cli/train/threads.ts';
import { isPresetName, presetConfig, type PresetName } from '../shared/model/config.ts';
import { mulberry32 } from '../shared/model/init.ts';
import { createCycleGAN, disposeCycleGAN, exportWeights, ImagePool, DEFAULT_POOL_SIZE, trainStep, CYCLEGAN_ADAM, CYCLEGAN_LOSS_WEIGHTS } from '../shared/train/index.ts';
import { interleave, type Peer } from './lib/interleave.ts';
import { formatLoad, sampleLoad } from './lib/load.ts';
import { summarize } from './lib/stats.ts';
import { fmtS, fmtX, type BenchTable } from './lib/table.ts';

interface Case {
  preset: PresetName;
  size: number;
  repeats: number;
}

const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, threads: { type: 'string' }, cases: { type: 'string' }, json: { type: 'string' } },
});
const threads = Number(values.threads ?? Math.min(MAX_TRAIN_THREADS, availableParallelism()));
if (!Number.isInteger(threads) || threads < 2 || threads > MAX_TRAIN_THREADS) throw new Error(`--threads must be 2..${MAX_TRAIN_THREADS}`);
const repeatsFor = (preset: string, size: number) => (preset === 'full' ? (size >= 128 ? 2 : 3) : size >= 128 ? 4 : 6);
const cases: Case[] = (values.cases ?? (values.quick ? 'small@64' : 'small@64,small@128,full@64,full@128')).split(',').map((c) => {
  const [preset, size] = c.split('@');
  if (!isPresetName(preset) || !/^\d+$/.test(size ?? '')) throw new Error(`--cases: "${c}" is not PRESET@SIZE`);
  return { preset, size: Number(size), repeats: values.quick ? 3 : repeatsFor(preset, Number(size)) };
});

function image(size: number, seed: number): Float32Array {
  const rnd = mulberry32(seed);
  return Float32Array.from({ length: size * size * 3 }, () => rnd() * 2 - 1);
}

await useBackend('wasm');
const rows: string[][] = [];
const notes: string[] = [];
const data: unknown[] = [];
for (const c of cases) {
  const cfg = presetConfig(c.preset);
  const shape: [number, number, number, number] = [1, c.size, c.size, 3];
  const a = image(c.size, 2);
  const b = image(c.size, 3);
  const model = createCycleGAN(cfg, { seed: 0 });
  const team = await ParallelCycleGAN.open({ threads, config: cfg, adam: CYCLEGAN_ADAM, weights: await exportWeights(model), lambdas: CYCLEGAN_LOSS_WEIGHTS });
  const rng1 = mulberry32(1);
  const rngN = mulberry32(1);
  const pools1 = { A: new ImagePool(DEFAULT_POOL_SIZE, rng1), B: new ImagePool(DEFAULT_POOL_SIZE, rng1) };
  const poolsN = { A: new ImagePool(DEFAULT_POOL_SIZE, rngN), B: new ImagePool(DEFAULT_POOL_SIZE, rngN) };
  const realA = tf.tensor4d(a, shape) as Tensor4D;
  const realB = tf.tensor4d(b, shape) as Tensor4D;
  const lossesOf: Record<string, number>[][] = [[], []];
  // CPU seconds of the whole process (every thread) per iteration: unlike wall time, they barely
  // depend on the machine's load, so they show the parallel version's extra work.
  const cpu: number[][] = [[], []];
  const sys: number[][] = [[], []];
  // Each worker's seconds per phase in every threaded iteration (cli/train/parallel.ts PhaseTimes).
  const phases: Record<string, number>[][] = [];
  // The on-core critical path per iteration (Linux schedstat): the one thread's own on-CPU seconds;
  // for N threads the busiest worker's. Time spent runnable but waiting for a core (the other
  // sessions' load) is left out, so this shows what the split gives when each thread has a core.
  const path: number[][] = [[], []];
  const waited: number[][] = [[], []];
  const timed = async (k: number, work: () => Promise<Record<string, number>>) => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    lossesOf[k].push(await work());
    const s = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    cpu[k].push((c.user + c.system) / 1e6);
    sys[k].push(c.system / 1e6);
    return s;
  };
  try {
    const peers: Peer[] = [
      {
        name: '1 thread',
        run: async () => {
          const s0 = threadSchedTimes();
          const s = await timed(0, () => trainStep(model, pools1, realA, realB, { lr: CYCLEGAN_ADAM.lr }));
          const s1 = threadSchedTimes();
          if (s0 && s1) {
            path[0].push(s1.onCpu - s0.onCpu);
            waited[0].push(s1.runnable - s0.runnable);
          }
          return s;
        },
        repeats: c.repeats,
      },
      {
        name: `${threads} threads`,
        run: async () => {
          const s = await timed(1, () => team.step(tf, { data: a, shape }, { data: b, shape }, poolsN, CYCLEGAN_ADAM.lr));
          phases.push(team.lastTimes);
          if (team.lastTimes.every((t) => 'on cpu' in t)) {
            path[1].push(Math.max(...team.lastTimes.map((t) => t['on cpu'])));
            waited[1].push(Math.max(...team.lastTimes.map((t) => t['runnable'])));
          }
          return s;
        },
        repeats: c.repeats,
      },
    ];
    const before = sampleLoad();
    console.error(`train-threads ${c.preset} ${c.size}×${c.size}: ${formatLoad(before)}`);
    const [one, many] = await interleave(peers, (m) => console.error(m));
    const after = sampleLoad();
    // Median seconds per phase and worker over the timed threaded iterations: where the wall time goes.
    const timedPhases = phases.slice(1);
    const phaseMedians = (timedPhases[0] ?? []).map((_, w) =>
      Object.fromEntries(Object.keys(timedPhases[0][w]).map((k) => [k, summarize(timedPhases.map((p) => p[w][k] ?? 0)).median])),
    );
    for (const [w, ph] of phaseMedians.entries())
      console.error(`  worker ${w}: ${Object.entries(ph).map(([k, v]) => `${k} ${v?.toFixed(3)}`).join(', ')}`);
    const same = JSON.stringify(lossesOf[0]) === JSON.stringify(lossesOf[1]);
    const m1 = one.summary?.median;
    const mN = many.summary?.median;
    // The timed runs' CPU (the first entry of each is the untimed warm-up).
    const c1 = summarize(cpu[0].slice(1)).median;
    const cN = summarize(cpu[1].slice(1)).median;
    const p1 = path[0].length > 1 ? summarize(path[0].slice(1)).median : undefined;
    const pN = path[1].length > 1 ? summarize(path[1].slice(1)).median : undefined;
    rows.push([c.preset, `${c.size}×${c.size}`, fmtS(m1), fmtS(mN), m1 && mN ? fmtX(m1 / mN) : '—', fmtS(c1), fmtS(cN), fmtX(cN / c1), fmtS(p1), fmtS(pN), p1 && pN ? fmtX(p1 / pN) : '—', `${one.samples.length}+${many.samples.length}`, same ? 'identical' : 'MISMATCH', `${before.loadavg[0].toFixed(1)}–${after.loadavg[0].toFixed(1)}`]);
    if (one.error || many.error) notes.push(`${c.preset}@${c.size}: ${one.error ?? ''} ${many.error ?? ''}`);
    data.push({ ...c, threads, one: one.samples, many: many.samples, cpu, warmup: [one.warmupS, many.warmupS], load: [before, after], identical: same, phases: phaseMedians, path, waited, sys });
  } finally {
    tf.dispose([realA, realB]);
    for (const p of [pools1, poolsN]) {
      p.A.dispose();
      p.B.dispose();
    }
    disposeCycleGAN(model);
    await team.dispose();
  }
}
notes.push(
  `one iteration = G step + D step, batch 1; peers interleaved (1 thread, ${threads} threads, in turn) after one untimed iteration each, from the same weights and images`,
  'losses compared over every iteration run: "identical" means equal as float32 numbers',
  'on-core path: median on-CPU seconds of the training thread (1 thread) or of the busiest worker (N threads) per iteration, from Linux schedstat; it leaves out time spent waiting for a core, so its ratio is the speed-up when every thread has a core to itself (the wall ratio on an idle machine, less a few ms of synchronisation)',
  'CPU s: user+system seconds of the whole process per iteration (all threads); CPU ratio = the extra work threads cost. On an idle machine the wall speed-up approaches threads ÷ CPU ratio when the chunks balance (they do at 2 threads)',
);
const table: BenchTable = {
  id: 'threads',
  title: `Training on ${threads} cores (stripes train --threads ${threads}) vs one`,
  columns: ['preset', 'size', '1 thread median s', `${threads} threads median s`, 'speed-up (wall)', 'CPU s, 1 thread', `CPU s, ${threads} threads`, 'CPU ratio', 'on-core path s, 1 thread', `on-core path s, ${threads} threads`, 'path speed-up', 'n', 'losses', 'load avg'],
  rows,
  notes,
  data,
};
console.log(rows.map((r) => r.join(' | ')).join('\n'));
if (values.json) writeFileSync(values.json, JSON.stringify(table));
