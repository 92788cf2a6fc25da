/**
 * `stripes train` on several cores (cli/train/parallel.ts): an iteration split across worker
 * threads gives the same losses, weights, Adam moments and pools as on one thread, bit for bit,
 * and the command's checkpoints are the same files.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { train } from '../../cli/commands/train.ts';
import { openTrainer, type Trainer } from '../../cli/train/session.ts';
import { chunkPlan } from '../../cli/train/parallel.ts';
import { mulberry32 } from '../../shared/model/init.ts';
import { presetConfig } from '../../shared/model/index.ts';
import { makeTask, writeFolder } from '../../scripts/synthetic-task.ts';

const SIZE = 32;
const dir = mkdtempSync(join(tmpdir(), 'stripes-train-threads-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function batches(n: number) {
  const rnd = mulberry32(7);
  const px = SIZE * SIZE * 3;
  const img = () => Float32Array.from({ length: px }, () => rnd() * 2 - 1);
  return Array.from({ length: n }, () => ({ a: img(), b: img(), shape: [1, SIZE, SIZE, 3] as [number, number, number, number] }));
}

async function run(threads: number, steps: number) {
  const trainer: Trainer = await openTrainer({ backend: 'wasm', config: presetConfig('tiny'), seed: 3, totalIters: 4, threads });
  try {
    expect(trainer.threads).toBe(threads);
    const losses = [];
    for (const [i, b] of batches(steps).entries()) losses.push(await trainer.step(b, i));
    const snap = await trainer.snapshot();
    const samples = await trainer.samples(batches(1)[0].a, batches(1)[0].b, SIZE);
    return { losses, snap, samples };
  } finally {
    await trainer.dispose();
  }
}

describe('training on several threads', () => {
  it('splits an iteration into balanced chunks: every generator term once, both discriminators', () => {
    for (const n of [2, 3, 4]) {
      const plan = chunkPlan(n, true);
      expect(plan.gen.flat().sort()).toEqual(['cycleA', 'cycleB', 'idtA', 'idtB']);
      expect(plan.disc.flat().sort()).toEqual(['D_A', 'D_B']);
      expect(plan.gen).toHaveLength(n);
    }
    expect(chunkPlan(2, true).gen).toEqual([['cycleA', 'idtA'], ['cycleB', 'idtB']]);
    expect(chunkPlan(2, false).gen).toEqual([['cycleA'], ['cycleB']]);
  });

  it('gives --threads 2 and 3 exactly the one-thread losses, weights, optimizer state, pools and samples', async () => {
    const one = await run(1, 3);
    for (const threads of [2, 3]) {
      const many = await run(threads, 3);
      // The first step, then the next two (the pools and Adam moments carry over).
      expect(many.losses).toEqual(one.losses);
      for (const net of Object.keys(one.snap.weights) as (keyof typeof one.snap.weights)[])
        for (const [k, v] of Object.entries(one.snap.weights[net])) expect(Buffer.compare(Buffer.from(many.snap.weights[net][k].buffer), Buffer.from(v.buffer)), `${net}/${k}`).toBe(0);
      expect(Buffer.compare(Buffer.from(many.snap.tensors), Buffer.from(one.snap.tensors))).toBe(0);
      expect(many.snap.meta).toEqual(one.snap.meta);
      for (const [k, v] of Object.entries(one.samples)) expect(Array.from(many.samples[k as keyof typeof one.samples]), k).toEqual(Array.from(v));
    }
  });

  it('stripes train --threads 2 writes the same checkpoint as --threads 1', async () => {
    const t = makeTask(SIZE, 4, 0);
    writeFolder(join(dir, 'A'), t.trainA, SIZE);
    writeFolder(join(dir, 'B'), t.trainB, SIZE);
    const args = (threads: number) => ['--a', join(dir, 'A'), '--b', join(dir, 'B'), '--out', join(dir, `t${threads}`), '--preset', 'tiny', '--load-size', '36', '--crop-size', '32', '--iters', '3', '--seed', '2', '--threads', String(threads)];
    expect(await train(args(1))).toBe(0);
    expect(await train(args(2))).toBe(0);
    const files = (d: string) => readdirSync(d, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(d.length)).sort();
    const a = files(join(dir, 't1'));
    expect(files(join(dir, 't2'))).toEqual(a);
    // Everything but the report page (which names the thread count) is the same bytes.
    for (const f of a.filter((x) => !x.endsWith('index.html'))) expect(readFileSync(join(dir, 't2', f)).equals(readFileSync(join(dir, 't1', f))), f).toBe(true);
  });

});
