// `stripes distill`: runs, resumes bit for bit, writes a checkpoint carrying the students as the
// `fast` variant (which `stripes translate --variant fast` uses), and the students' L1 to the
// teacher drops over a short run.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { distill } from '../../cli/commands/distill.ts';
import { writeCheckpointDir } from '../../cli/checkpoint-dir.ts';
import { decodeImage } from '../../cli/image-io.ts';
import { NETWORKS, presetConfig } from '../../shared/model/index.ts';
import { initValues } from '../../shared/model/init.ts';
import { fastStudentConfig } from '../../shared/model/student-config.ts';
import { specsOf } from '../../shared/train/cyclegan.ts';
import { encodeCheckpoint } from '../../shared/weights/checkpoint.ts';
import { validateManifest } from '../../shared/weights/manifest.ts';
import { makeTask, writeFolder } from '../../scripts/synthetic-task.ts';
import { stripes } from './run-cli.ts';

const SIZE = 32;

/** A tiny teacher (seeded weights: distilling needs a function to copy, not a good one) and two folders. */
async function setup(): Promise<{ dir: string; teacher: string; a: string; b: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'stripes-distill-'));
  const cfg = presetConfig('tiny');
  const nets = Object.fromEntries(NETWORKS.map((n, i) => [n, Object.fromEntries(initValues(specsOf(cfg, n), 11 + i))]));
  await writeCheckpointDir(join(dir, 'teacher'), await encodeCheckpoint(cfg, nets));
  const t = makeTask(SIZE, 6, 0);
  writeFolder(join(dir, 'A'), t.trainA, SIZE);
  writeFolder(join(dir, 'B'), t.trainB, SIZE);
  return { dir, teacher: join(dir, 'teacher'), a: join(dir, 'A'), b: join(dir, 'B') };
}

const opts = ['--load-size', '36', '--crop-size', '32', '--iterations', '24', '--save-every', '4'];
const manifestOf = (out: string) => validateManifest(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')));
const stateOf = (out: string) => JSON.parse(readFileSync(join(out, 'training', 'distill.json'), 'utf8'));

async function run(args: string[]): Promise<string> {
  try {
    await distill(args);
    return '';
  } catch (e) {
    return (e as Error).message;
  }
}

describe('stripes distill', () => {
  it('distils both directions into a fast variant, the L1 to the teacher drops, and a resumed run is bit for bit the same', async () => {
    const s = await setup();
    const whole = join(s.dir, 'whole');
    expect(await run(['--model', s.teacher, '--a', s.a, '--b', s.b, '--out', whole, ...opts])).toBe('');
    const m = manifestOf(whole);
    const teacher = manifestOf(s.teacher);
    // The teacher travels unchanged; the students ride along as variants.fast.
    expect(m.groups).toEqual(teacher.groups);
    expect(m.variants?.float16).toEqual(teacher.variants?.float16);
    expect(m.variants?.fast?.config).toEqual(fastStudentConfig(teacher.config.generator));
    expect(Object.keys(m.variants!.fast!.groups).sort()).toEqual(['G_AB', 'G_BA']);
    for (const g of Object.values(m.variants!.fast!.groups)) for (const p of g!.paths) expect(existsSync(join(whole, 'shards', p))).toBe(true);
    expect(readFileSync(join(whole, 'index.html'), 'utf8')).toMatch(/student_B/);

    // The students get closer to their teachers: measured on the report's fixed images at each save.
    const rows: Array<{ iter: number; l1: { AB: number; BA: number } }> = stateOf(whole).rows;
    expect(rows.map((r) => r.iter)).toEqual([4, 8, 12, 16, 20, 24]);
    const first = rows[0].l1;
    const last = rows[rows.length - 1].l1;
    expect(last.AB).toBeLessThan(first.AB * 0.97);
    expect(last.BA).toBeLessThan(first.BA * 0.97);

    // Stopped at 12 and resumed: the same students, to the bit (shards are named by their hash).
    const split = join(s.dir, 'split');
    expect(await run(['--model', s.teacher, '--a', s.a, '--b', s.b, '--out', split, ...opts, '--stop-at', '12'])).toBe('');
    expect(stateOf(split).iter).toBe(12);
    expect(await run(['--model', s.teacher, '--a', s.a, '--b', s.b, '--out', split, ...opts])).toMatch(/already holds a distillation: pass --resume/);
    expect(await run(['--a', s.a, '--b', s.b, '--out', split, '--resume', '--iterations', '30'])).toMatch(/--iterations 30 \(the run has 24\)/);
    expect(await run(['--a', s.a, '--b', s.b, '--out', split, '--resume'])).toBe('');
    expect(manifestOf(split).variants!.fast).toEqual(m.variants!.fast);
    expect(stateOf(split).rows.map((r: { l1: unknown }) => r.l1)).toEqual(rows.map((r) => r.l1));

    // stripes translate picks the student with --variant fast (and by default on wasm).
    const r = stripes('translate', '--model', whole, '--in', join(s.a, '0000.png'), '--out', join(s.dir, 'fast.png'), '--variant', 'fast');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(existsSync(join(s.dir, 'fast.png'))).toBe(true);
    // In tiles (16 px: 2×2 of them) the student gives the same picture, within one level.
    const t = stripes('translate', '--model', whole, '--in', join(s.a, '0000.png'), '--out', join(s.dir, 'fast-tiled.png'), '--variant', 'fast', '--tile', '16');
    expect(t.stderr).toBe('');
    const whole1 = decodeImage(readFileSync(join(s.dir, 'fast.png')), 'fast.png');
    const tiled1 = decodeImage(readFileSync(join(s.dir, 'fast-tiled.png')), 'fast-tiled.png');
    expect([tiled1.width, tiled1.height]).toEqual([SIZE, SIZE]);
    expect(Math.max(...whole1.data.map((v, i) => Math.abs(v - tiled1.data[i])))).toBeLessThanOrEqual(1);
    const none = stripes('translate', '--model', s.teacher, '--in', join(s.a, '0000.png'), '--out', join(s.dir, 'none.png'), '--variant', 'fast');
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/--variant fast: .* has no distilled G_AB \(make one with stripes distill\), use --variant full/);
  }, 600_000);

  it('refuses bad input in one line, writing nothing', async () => {
    const s = await setup();
    const out = join(s.dir, 'out');
    expect(await run(['--model', join(s.dir, 'nope'), '--a', s.a, '--b', s.b, '--out', out])).toMatch(/not a Stripes checkpoint/);
    expect(await run(['--a', s.a, '--b', s.b, '--out', out])).toMatch(/--model/);
    expect(await run(['--model', s.teacher, '--a', s.a, '--b', s.b, '--out', out, '--preset', 'tiny'])).toMatch(/--preset must be fast/);
    expect(await run(['--model', s.teacher, '--a', s.a, '--b', s.b, '--out', out, '--gan-weight', 'lots'])).toMatch(/--gan-weight must be a number ≥ 0, got "lots"/);
    expect(await run(['--a', s.a, '--b', s.b, '--out', out, '--resume'])).toMatch(/does not exist/);
    expect(existsSync(out)).toBe(false);
  });
});
