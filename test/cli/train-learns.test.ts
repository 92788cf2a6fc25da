// Proof that `stripes train` learns: on an unpaired task whose true mapping T is known, the
// trained G_AB is measurably closer to T on held-out images than doing nothing, and than the
// run's own untrained networks, which are checked to fail the same bars.
//
// The task (scripts/synthetic-task.ts): domain A holds smooth blob images whose colours all have
// red as their largest channel; T rotates channels, (r,g,b) → (g,b,r), so domain B (T of other,
// independently drawn images) is blue-dominant. Training sees only the two unpaired folders;
// the 16 held-out images come from a seed training never saw.
//
// The bars, and why none can be met by chance. Numbers are from three trajectories of 400
// iterations on wasm: seed 3 before and after a float-level change to the wasm kernels (GAN
// training amplifies such changes, so the same seed took another path), and seed 1.
// 1. PSNR(G_AB(x), T(x)) ≥ PSNR(x, T(x)) + 4 dB. Doing nothing scores 8.5 dB; trained 15.1, 14.9
//    and 13.7 dB; the untrained networks of seeds 1–4 score 10.9–12.0 dB, below the bar (checked).
// 2. ≥ 95% of G_AB(x)'s pixels lie in B's palette (blue strictly largest). x: 0%; T(x): 100%;
//    trained: 100%; untrained: 16–53% (checked).
// 3. The cycle G_BA(G_AB(x)) reconstructs x ≥ 2 dB better than the untrained pair's: trained
//    15.4, 15.6 and 15.0 dB, untrained 10.6–12.6 dB. A G_AB that painted everything one B-like
//    colour would pass bar 2 and fail this one: it has to keep what x holds.
// What this does not show: that G_AB is T pixel for pixel. CycleGAN's objective admits other
// palette-to-palette bijections (swapping red and blue also makes red-dominant colours
// blue-dominant), and at this budget the per-channel correlation of G_AB(x) with T(x) depends on
// the trajectory (+0.48 and +0.42 for seed 3, −0.19 for seed 1, identity +0.26; logged below,
// not a bar). A CI-sized run cannot be asked for the exact mapping: CycleGAN with the paper's recipe learns slowly, and docs/training/README.md shows what a longer run reaches.
// Cost: about 65 s of one core (400 iterations of the tiny networks at 32×32).
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../../cli/commands/train.ts';
import { openTrainer } from '../../cli/train/session.ts';
import { presetConfig } from '../../shared/model/index.ts';
import { makeTask, scoreCheckpoint, scoreGenerators, scoreOutputs, toFloats, writeFolder } from '../../scripts/synthetic-task.ts';

const SIZE = 32;
const ITERS = Number(process.env.STRIPES_LEARN_ITERS ?? 400);
const SEED = Number(process.env.STRIPES_LEARN_SEED ?? 3);

describe('stripes train learns a known unpaired mapping', () => {
  it(`G_AB moves held-out A images towards T after ${ITERS} iterations (tiny preset, 32×32, wasm)`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stripes-learn-'));
    const task = makeTask(SIZE, 64, 16);
    writeFolder(join(dir, 'A'), task.trainA, SIZE);
    writeFolder(join(dir, 'B'), task.trainB, SIZE);
    const out = join(dir, 'run');
    const args = ['--a', join(dir, 'A'), '--b', join(dir, 'B'), '--out', out, '--preset', 'tiny', '--load-size', `${SIZE}`, '--crop-size', `${SIZE}`];
    await train([...args, '--iters', `${ITERS}`, '--save-every', `${ITERS}`, '--seed', `${SEED}`, '--backend', 'wasm']);

    const trained = await scoreCheckpoint(out, task.testA, SIZE);
    const init = await openTrainer({ backend: 'wasm', config: presetConfig('tiny'), seed: SEED, totalIters: ITERS });
    const w = (await init.snapshot()).weights;
    init.dispose();
    const untrained = scoreGenerators(w.G_AB, w.G_BA, presetConfig('tiny'), task.testA, SIZE);
    const identity = scoreOutputs(toFloats(task.testA), task.testA);
    console.log(`learning proof after ${ITERS} iterations:`, JSON.stringify({ trained, untrained, identity }));

    const MARGIN_DB = 4;
    const IN_B = 0.95;
    const CYCLE_DB = 2;
    // Controls: the bars are out of reach without training.
    expect(untrained.psnr).toBeLessThan(identity.psnr + MARGIN_DB);
    expect(untrained.inB).toBeLessThan(IN_B);
    expect(identity.inB).toBeLessThan(IN_B);
    // The claim.
    expect(trained.psnr).toBeGreaterThan(identity.psnr + MARGIN_DB);
    expect(trained.inB).toBeGreaterThanOrEqual(IN_B);
    expect(trained.cycle).toBeGreaterThan(untrained.cycle + CYCLE_DB);
  }, 900_000);
});
