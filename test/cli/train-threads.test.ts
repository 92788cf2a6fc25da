/**
 * `stripes train` on several cores (cli/train/parallel.ts): an iteration split across worker
 * threads gives the same losses, weights, Adam moments and pools as on one thread, bit for bit,
 * and the command's checkpoints are the same files.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../cli/tf-backend.ts';
import { train } from '../../cli/commands/train.ts';
import { openTrainer, type Trainer } from '../../cli/train/session.ts';
import { chunkPlan, ownerOf, ParallelCycleGAN } from '../../cli/train/parallel.ts';
import { CYCLEGAN_ADAM, CYCLEGAN_LOSS_WEIGHTS, createCycleGAN, disposeCycleGAN, exportWeights, ImagePool } from '../../shared/train/index.ts';
import * as tf from '@tensorflow/tfjs-core';
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

type Snapshot = Awaited<ReturnType<Trainer['snapshot']>>;

/** `steps` iterations on `threads` threads; with `resume`, first `resume.steps` of them on `resume.threads`, then a resume from that snapshot. */
async function run(threads: number, steps: number, resume?: { threads: number; steps: number }) {
  let from: Snapshot | undefined;
  let first = 0;
  const losses = [];
  if (resume) {
    const t = await openTrainer({ backend: 'wasm', config: presetConfig('tiny'), seed: 3, totalIters: 4, threads: resume.threads });
    try {
      for (const [i, b] of batches(resume.steps).entries()) losses.push(await t.step(b, i));
      from = await t.snapshot();
      first = resume.steps;
    } finally {
      await t.dispose();
    }
  }
  const trainer: Trainer = await openTrainer({ backend: 'wasm', config: presetConfig('tiny'), seed: 3, totalIters: 4, threads, resumeFrom: from });
  try {
    expect(trainer.threads).toBe(threads);
    for (const [i, b] of batches(steps).entries()) if (i >= first) losses.push(await trainer.step(b, i));
    const snap = await trainer.snapshot();
    const samples = await trainer.samples(batches(1)[0].a, batches(1)[0].b, SIZE);
    return { losses, snap, samples };
  } finally {
    await trainer.dispose();
  }
}

describe('training on several threads', () => {
  // The calling thread's backend holds the history pools.
  beforeAll(() => useBackend('wasm'));

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

  it('gives every network one owner, the worker that runs its discriminator half or its cycle', () => {
    for (const n of [2, 3, 4]) {
      const owner = ownerOf(n);
      const plan = chunkPlan(n, true);
      expect(plan.disc[owner.D_A]).toEqual(['D_A']);
      expect(plan.disc[owner.D_B]).toEqual(['D_B']);
      expect(plan.gen[owner.G_AB]).toContain('cycleA');
      expect(plan.gen[owner.G_BA]).toContain('cycleB');
    }
  });

  it('gives --threads 2, 3 and 4 exactly the one-thread losses, weights, optimizer state, pools and samples', async () => {
    const one = await run(1, 3);
    // 4 threads: the identity chunks' gradients, too, cross to their generator's owner.
    for (const threads of [2, 3, 4]) {
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

  it('resumes a run across thread counts exactly (each optimizer slot gathered from its owner, restored on every worker)', async () => {
    const one = await run(1, 3);
    for (const [before, after] of [[2, 1], [1, 3]]) {
      const r = await run(after, 3, { threads: before, steps: 2 });
      expect(r.losses, `${before} → ${after}`).toEqual(one.losses);
      expect(Buffer.compare(Buffer.from(r.snap.tensors), Buffer.from(one.snap.tensors)), `${before} → ${after}`).toBe(0);
      expect(r.snap.meta).toEqual(one.snap.meta);
    }
  });

  it('frees every tensor a step makes on every worker', async () => {
    const cfg = presetConfig('tiny');
    const model = createCycleGAN(cfg, { seed: 0 });
    const team = await ParallelCycleGAN.open({ threads: 3, config: cfg, adam: CYCLEGAN_ADAM, weights: await exportWeights(model), lambdas: CYCLEGAN_LOSS_WEIGHTS });
    disposeCycleGAN(model);
    let seed = 0;
    const pools = { A: new ImagePool(50, () => ((seed = (seed * 16807 + 1) % 2147483647) / 2147483647)), B: new ImagePool(50, Math.random) };
    try {
      const counts = [];
      for (const b of batches(3)) {
        await team.step(tf, { data: b.a, shape: b.shape }, { data: b.b, shape: b.shape }, pools, 2e-4);
        counts.push(team.lastTensors);
      }
      expect(counts[2]).toEqual(counts[1]);
      expect(counts[1].every((n) => Number.isInteger(n) && n > 0)).toBe(true);
    } finally {
      pools.A.dispose();
      pools.B.dispose();
      await team.dispose();
    }
  });

  it('fails a step on every worker without hanging, and refuses further steps', async () => {
    const cfg = presetConfig('tiny');
    const model = createCycleGAN(cfg, { seed: 0 });
    const team = await ParallelCycleGAN.open({ threads: 2, config: cfg, adam: CYCLEGAN_ADAM, weights: await exportWeights(model), lambdas: CYCLEGAN_LOSS_WEIGHTS });
    disposeCycleGAN(model);
    const pools = { A: new ImagePool(50, Math.random), B: new ImagePool(50, Math.random) };
    try {
      const bad = { data: new Float32Array(SIZE * SIZE), shape: [1, SIZE, SIZE, 1] as [number, number, number, number] };
      await expect(team.step(tf, bad, bad, pools, 2e-4)).rejects.toThrow(/real_A must be/);
      const ok = batches(1)[0];
      await expect(team.step(tf, { data: ok.a, shape: ok.shape }, { data: ok.b, shape: ok.shape }, pools, 2e-4)).rejects.toThrow();
    } finally {
      pools.A.dispose();
      pools.B.dispose();
      await team.dispose();
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
