// `stripes train`: bad input fails in one line before anything is written; a run is deterministic,
// resumes exactly, leaves a checkpoint `stripes translate` can use, and writes its report.
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { train } from '../../cli/commands/train.ts';
import { openTrainer } from '../../cli/train/session.ts';
import { presetConfig } from '../../shared/model/index.ts';
import { encodePng } from '../../cli/image-io.ts';
import { makeTask, writeFolder } from '../../scripts/synthetic-task.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const SIZE = 32;

function task(): { dir: string; a: string; b: string } {
  const dir = mkdtempSync(join(tmpdir(), 'stripes-train-'));
  const t = makeTask(SIZE, 6, 0);
  writeFolder(join(dir, 'A'), t.trainA, SIZE);
  writeFolder(join(dir, 'B'), t.trainB, SIZE);
  return { dir, a: join(dir, 'A'), b: join(dir, 'B') };
}

/** Runs the command in-process; resolves to its error message, or '' on success. */
async function run(args: string[]): Promise<string> {
  try {
    await train(args);
    return '';
  } catch (e) {
    return (e as Error).message;
  }
}

const tiny = ['--preset', 'tiny', '--load-size', '36', '--crop-size', '32', '--backend', 'cpu'];

describe('stripes train refuses bad input in one line, writing nothing', () => {
  it('missing or empty folders, folders of unreadable files', async () => {
    const t = task();
    const out = join(t.dir, 'out');
    expect(await run(['--a', join(t.dir, 'nope'), '--b', t.b, '--out', out, ...tiny])).toMatch(/^--a .*nope: no such folder$/);
    mkdirSync(join(t.dir, 'empty'));
    expect(await run(['--a', t.a, '--b', join(t.dir, 'empty'), '--out', out, ...tiny])).toMatch(/^--b .*empty: no images/);
    mkdirSync(join(t.dir, 'junk'));
    writeFileSync(join(t.dir, 'junk', 'x.png'), 'not a png');
    expect(await run(['--a', join(t.dir, 'junk'), '--b', t.b, '--out', out, ...tiny])).toMatch(/none of the 1 image files could be read/);
    expect(existsSync(out)).toBe(false);
  });

  it('a crop larger than the load size, or too small for the networks', async () => {
    const t = task();
    const out = join(t.dir, 'out');
    expect(await run(['--a', t.a, '--b', t.b, '--out', out, '--load-size', '32', '--crop-size', '64'])).toMatch(
      /--crop-size 64 is larger than --load-size 32/,
    );
    expect(await run(['--a', t.a, '--b', t.b, '--out', out, '--load-size', '32', '--crop-size', '30'])).toMatch(/multiple of 4/);
    expect(await run(['--a', t.a, '--b', t.b, '--out', out, '--load-size', '32', '--crop-size', '16'])).toMatch(/too small/);
    expect(await run(['--a', t.a, '--b', t.b, '--out', out, '--iters', '0'])).toMatch(/--iters must be an integer ≥ 1, got "0"/);
    expect(await run(['--a', t.a, '--b', t.b, '--out', out, '--preset', 'huge'])).toMatch(/--preset must be/);
    expect(existsSync(out)).toBe(false);
  });

  it('an --out that holds something else, or --resume with nothing to resume', async () => {
    const t = task();
    const other = join(t.dir, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'keep.txt'), 'mine');
    expect(await run(['--a', t.a, '--b', t.b, '--out', other, ...tiny])).toMatch(/is not empty: choose a new or empty folder/);
    expect(await run(['--a', t.a, '--b', t.b, '--out', other, '--resume', ...tiny])).toMatch(/holds no training run state/);
    expect(await run(['--a', t.a, '--b', t.b, '--out', join(t.dir, 'none'), '--resume'])).toMatch(/does not exist/);
    expect(readdirSync(other)).toEqual(['keep.txt']);
  });

  it('prints one line and exits 2 for a usage error, from the real binary', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'cli', 'bin.mjs'), 'train', '--a', 'x', '--b', 'y'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`stripes: train: --out is required (see 'stripes train --help')`]);
  });
});

/** Every file under `dir` with its bytes, by relative path. */
function tree(dir: string, prefix = ''): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const e of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) for (const [k, v] of tree(dir, rel)) out.set(k, v);
    else out.set(rel, readFileSync(join(dir, rel)));
  }
  return out;
}

describe('the training session', () => {
  it('holds no tensors beyond the pools\' new fakes across steps, samples and snapshots', async () => {
    const trainer = await openTrainer({ backend: 'wasm', config: presetConfig('tiny'), seed: 1, totalIters: 10 });
    const px = 32 * 32 * 3;
    const batch = { a: new Float32Array(px).fill(0.5), b: new Float32Array(px).fill(-0.5), shape: [1, 32, 32, 3] as [number, number, number, number] };
    try {
      await trainer.step(batch, 0);
      const before = tf.memory().numTensors;
      await trainer.step(batch, 1);
      await trainer.samples(batch.a, batch.b, 32);
      await trainer.snapshot();
      // Each pool stores the step's fake (it is not full yet): two tensors, nothing else.
      expect(tf.memory().numTensors - before).toBe(2);
    } finally {
      await trainer.dispose();
    }
  });
});

describe('stripes train runs, checkpoints and resumes exactly', () => {
  const t = task();
  const common = ['--a', t.a, '--b', t.b, ...tiny.filter((x) => x !== 'cpu' && x !== '--backend'), '--iters', '6', '--save-every', '3', '--seed', '5', '--backend', 'wasm'];
  const straight = join(t.dir, 'straight');
  const split = join(t.dir, 'split');

  it('6 iterations straight equal 4 then --resume for 2: same weights, optimizer, pools, RNG, report', async () => {
    expect(await run(['--out', straight, ...common])).toBe('');
    expect(await run(['--out', split, ...common, '--stop-at', '4'])).toBe('');
    const half = JSON.parse(readFileSync(join(split, 'training', 'state.json'), 'utf8'));
    expect(half.iter).toBe(4);
    expect(await run(['--out', split, '--a', t.a, '--b', t.b, '--resume', '--backend', 'wasm'])).toBe('');
    const a = tree(straight);
    const b = tree(split);
    // Shards are named by their SHA-256, so equal manifests mean bit-equal weights.
    for (const name of ['manifest.json', 'training/state.safetensors']) expect(b.get(name)!.equals(a.get(name)!), name).toBe(true);
    expect([...b.keys()].filter((k) => k.startsWith('shards/')).sort()).toEqual([...a.keys()].filter((k) => k.startsWith('shards/')).sort());
    // The data RNG, sampler, loss history and pools' RNG too; only the report differs, by the
    // row of the checkpoint saved at the stop.
    const stateA = JSON.parse(a.get('training/state.json')!.toString());
    const stateB = JSON.parse(b.get('training/state.json')!.toString());
    expect(stateB.rows.map((r: { iter: number }) => r.iter)).toEqual([3, 4, 6]);
    expect(stateA.rows.map((r: { iter: number }) => r.iter)).toEqual([3, 6]);
    expect({ ...stateB, rows: [] }).toEqual({ ...stateA, rows: [] });
    for (const n of ['real_A', 'fake_B', 'rec_A', 'real_B', 'fake_A', 'rec_B'])
      expect(b.get(`report/0000006_${n}.png`)!.equals(a.get(`report/0000006_${n}.png`)!), n).toBe(true);
    const manifest = JSON.parse(a.get('manifest.json')!.toString());
    expect(Object.keys(manifest.groups).sort()).toEqual(['D_A', 'D_B', 'G_AB', 'G_BA']);
    expect(manifest.meta.iterations).toBe(6);
  });

  it('writes a report with a row per checkpoint and a chart per loss group', () => {
    const html = readFileSync(join(straight, 'index.html'), 'utf8');
    expect(html.match(/<svg/g)).toHaveLength(4);
    for (const iter of [3, 6]) for (const n of ['real_A', 'fake_B', 'rec_A', 'real_B', 'fake_A', 'rec_B'])
      expect(existsSync(join(straight, 'report', `${String(iter).padStart(7, '0')}_${n}.png`))).toBe(true);
    expect(html).toContain('iteration 6');
  });

  it('leaves a checkpoint stripes translate can use', () => {
    const img = join(t.dir, 'in.png');
    writeFileSync(img, encodePng({ width: 32, height: 32, data: makeTask(32, 1, 0).trainA[0] }));
    const outPng = join(t.dir, 'translated.png');
    execFileSync(process.execPath, [join(ROOT, 'cli', 'bin.mjs'), 'translate', '--model', straight, '--in', img, '--out', outPng, '--backend', 'cpu'], { stdio: 'pipe' });
    expect(readFileSync(outPng).subarray(1, 4).toString()).toBe('PNG');
  });

  it('refuses to resume with other settings or other images, touching nothing', async () => {
    const before = tree(straight);
    expect(await run(['--out', straight, ...common, '--resume', '--crop-size', '28'])).toMatch(
      /^--resume: .* holds a different run: --crop-size 28 \(the checkpoint has 32\)$/,
    );
    expect(await run(['--out', straight, '--a', t.a, '--b', t.b, '--resume', '--preset', 'small'])).toMatch(/holds a different run: --preset/);
    expect(await run(['--out', straight, '--a', t.b, '--b', t.b, '--resume'])).toMatch(/the images in --a .* are not the ones the run started with/);
    expect(await run(['--out', straight, ...common])).toMatch(/already holds a training run: pass --resume/);
    // A finished run resumed is a no-op, not an error.
    expect(await run(['--out', straight, '--a', t.a, '--b', t.b, '--resume'])).toBe('');
    const after = tree(straight);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [name, bytes] of before) expect(after.get(name)!.equals(bytes), name).toBe(true);
  });

  it('skips unreadable images with a warning and counts them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stripes-train-'));
    const A = join(dir, 'A');
    writeFolder(A, makeTask(SIZE, 3, 0).trainA, SIZE);
    writeFileSync(join(A, 'zz-broken.png'), 'not a png');
    writeFileSync(join(A, 'zz-truncated.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16]));
    const out = join(dir, 'out');
    const writes: string[] = [];
    const orig = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (writes.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      expect(await run(['--a', A, '--b', t.b, '--out', out, ...common.slice(4), '--iters', '1'])).toBe('');
    } finally {
      process.stderr.write = orig;
    }
    const log = writes.join('');
    expect(log).toMatch(/warning: skipping .*zz-broken\.png: not a PNG or JPEG file/);
    expect(log).toMatch(/warning: skipping .*zz-truncated\.jpg: cannot decode JPEG/);
    expect(log).toMatch(/skipped 2 unreadable image\(s\) in --a and 0 in --b/);
    expect(JSON.parse(readFileSync(join(out, 'training', 'state.json'), 'utf8')).skipped).toEqual({ a: 2, b: 0 });
    expect(readFileSync(join(out, 'index.html'), 'utf8')).toContain('2 unreadable skipped');
  });
});
