import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, type RgbImage } from '../../cli/image-io.ts';
import { ROOT, stripes } from './run-cli.ts';

// `stripes translate` on a real photo (70×47: both sides get reflection-padded and cropped),
// against the PyTorch reference generator with the same weights and pre/post-processing
// (scripts/make_translate_fixture.py). The numbers must agree to one 8-bit level per value.
const IMAGES = join(ROOT, 'test/fixtures/images');
const WEIGHTS = join(ROOT, 'test/fixtures/torch-import');
const tmp = mkdtempSync(join(tmpdir(), 'stripes-translate-'));
const model = join(tmp, 'model');
const modelAB = join(tmp, 'model-ab');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

beforeAll(() => {
  for (const [dir, files] of [[model, ['G_AB.f32.safetensors', 'G_BA.f16.safetensors']], [modelAB, ['G_AB.f32.safetensors']]] as const) {
    const r = stripes('import-torch', ...files.map((f) => join(WEIGHTS, f)), '--out', dir);
    if (r.code !== 0) throw new Error(r.stderr);
  }
});

const read = (p: string) => decodeImage(readFileSync(p), p);

function maxLevelDiff(a: RgbImage, b: RgbImage): number {
  expect([a.width, a.height]).toEqual([b.width, b.height]);
  let worst = 0;
  for (let i = 0; i < a.data.length; i++) worst = Math.max(worst, Math.abs(a.data[i] - b.data[i]));
  return worst;
}

describe('stripes translate', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    for (const direction of ['AtoB', 'BtoA'] as const) {
      it(`matches PyTorch within one level on a photo, ${direction} on ${backend}`, () => {
        const out = join(tmp, `${direction}-${backend}.png`);
        const r = stripes('translate', '--model', model, '--in', join(IMAGES, 'chelsea.png'), '--out', out, '--direction', direction, '--backend', backend);
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        const got = read(out);
        const want = read(join(IMAGES, `chelsea.${direction}.png`));
        expect(maxLevelDiff(got, want)).toBeLessThanOrEqual(1);
        // The tolerance is for rounding boundaries only, not a way to hide a shifted or wrong image.
        expect(maxLevelDiff(got, read(join(IMAGES, 'chelsea.png')))).toBeGreaterThan(100);
      });
    }
  }

  it('matches PyTorch within one level when the photo goes through the tiled generator (--tile 16: 5×3 tiles)', () => {
    const out = join(tmp, 'tiled.png');
    const r = stripes('translate', '--model', model, '--in', join(IMAGES, 'chelsea.png'), '--out', out, '--backend', 'wasm', '--tile', '16');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(maxLevelDiff(read(out), read(join(IMAGES, 'chelsea.AtoB.png')))).toBeLessThanOrEqual(1);
  });

  it('decodes the JPEG copy of the photo to nearly the PNG pixels (orientation and channel order)', () => {
    const png = read(join(IMAGES, 'chelsea.png'));
    const jpg = read(join(IMAGES, 'chelsea.jpg'));
    expect([jpg.width, jpg.height]).toEqual([70, 47]);
    let sum = 0;
    for (let i = 0; i < png.data.length; i++) sum += Math.abs(png.data[i] - jpg.data[i]);
    expect(sum / png.data.length).toBeLessThan(3);
  });

  it('translates a folder on two worker threads, reports unreadable images and still writes the rest', () => {
    const input = join(tmp, 'folder-in');
    const output = join(tmp, 'folder-out');
    mkdirSync(input);
    copyFileSync(join(IMAGES, 'chelsea.png'), join(input, 'a.png'));
    copyFileSync(join(IMAGES, 'chelsea.jpg'), join(input, 'b.JPG'));
    copyFileSync(join(IMAGES, 'chelsea.png'), join(input, 'c.png'));
    writeFileSync(join(input, 'broken.png'), 'this is not an image');
    writeFileSync(join(input, 'cut.jpg'), readFileSync(join(IMAGES, 'chelsea.jpg')).subarray(0, 1500));
    writeFileSync(join(input, 'notes.txt'), 'ignored: not an image extension');
    const r = stripes('translate', '--model', model, '--in', input, '--out', output, '--backend', 'wasm', '--jobs', '2');
    expect(r.code).toBe(1);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toContain(`stripes: ${join(input, 'broken.png')}: not a PNG or JPEG file`);
    expect(lines.some((l) => l.startsWith(`stripes: ${join(input, 'cut.jpg')}: cannot decode JPEG`))).toBe(true);
    expect(lines.at(-1)).toBe(`stripes: 2 of 5 images failed; the others are in ${output}`);
    // Not a terminal: plain progress lines, ending with the full count.
    expect(lines.some((l) => /^AtoB G_AB 5\/5 [\d.]+ img\/s done in \d+:\d\d$/.test(l))).toBe(true);
    expect(readdirSync(output).sort()).toEqual(['a.png', 'b.png', 'c.png']);
    const want = read(join(IMAGES, 'chelsea.AtoB.png'));
    expect(maxLevelDiff(read(join(output, 'a.png')), want)).toBeLessThanOrEqual(1);
    expect(maxLevelDiff(read(join(output, 'c.png')), want)).toBeLessThanOrEqual(1);
    expect([read(join(output, 'b.png')).width, read(join(output, 'b.png')).height]).toEqual([70, 47]);
  });

  it('writes <name>.png into --out when it names a folder, even one not made yet', () => {
    const r = stripes('translate', '--model', model, '--in', join(IMAGES, 'chelsea.jpg'), '--out', join(tmp, 'new-folder') + '/', '--backend', 'cpu');
    expect(r.code).toBe(0);
    expect(readdirSync(join(tmp, 'new-folder'))).toEqual(['chelsea.png']);
  });

  it('refuses a folder where two inputs would write the same output, before writing anything', () => {
    const input = join(tmp, 'clash-in');
    mkdirSync(input);
    copyFileSync(join(IMAGES, 'chelsea.png'), join(input, 'cat.png'));
    copyFileSync(join(IMAGES, 'chelsea.jpg'), join(input, 'cat.jpg'));
    const r = stripes('translate', '--model', model, '--in', input, '--out', join(tmp, 'clash-out'));
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`stripes: cat.jpg and cat.png would both be written to ${join(tmp, 'clash-out', 'cat.png')}`);
    expect(existsSync(join(tmp, 'clash-out'))).toBe(false);
  });

  it('says which generators a checkpoint holds when the direction needs another', () => {
    const r = stripes('translate', '--model', modelAB, '--in', join(IMAGES, 'chelsea.png'), '--out', join(tmp, 'none.png'), '--direction', 'BtoA');
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`stripes: ${modelAB}: checkpoint has no G_BA group (it holds G_AB)`);
    expect(existsSync(join(tmp, 'none.png'))).toBe(false);
  });

  it('refuses a checkpoint with a corrupt shard, naming it', () => {
    const bad = join(tmp, 'model-corrupt');
    const r0 = stripes('import-torch', join(WEIGHTS, 'G_AB.f32.safetensors'), '--out', bad);
    expect(r0.code).toBe(0);
    const manifest = JSON.parse(readFileSync(join(bad, 'manifest.json'), 'utf8'));
    const shard = manifest.groups.G_AB.paths[0];
    const p = join(bad, 'shards', shard);
    const bytes = readFileSync(p);
    bytes[100] ^= 0xff;
    writeFileSync(p, bytes);
    const r = stripes('translate', '--model', bad, '--in', join(IMAGES, 'chelsea.png'), '--out', join(tmp, 'corrupt.png'));
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(new RegExp(`^stripes: .*model-corrupt: G_AB: shard ${shard} is corrupt \\(its SHA-256 is [0-9a-f]{64}\\)$`));
  });

  it('treats bad options as usage errors (exit 2) and a missing model folder as a failure', () => {
    const base = ['translate', '--in', join(IMAGES, 'chelsea.png'), '--out', join(tmp, 'u.png')];
    const dir = stripes(...base, '--model', model, '--direction', 'sideways');
    expect(dir.code).toBe(2);
    expect(dir.stderr.trim()).toBe(`stripes: translate: --direction must be AtoB or BtoA, got "sideways" (see 'stripes translate --help')`);
    const tile = stripes(...base, '--model', model, '--tile', '8');
    expect(tile.code).toBe(2);
    expect(tile.stderr).toContain('--tile must be auto, 0 or an integer of at least 16, got "8"');
    const noModel = stripes(...base, '--model', join(tmp, 'nothing-here'));
    expect(noModel.code).toBe(1);
    expect(noModel.stderr.trim()).toBe(`stripes: ${join(tmp, 'nothing-here')} is not a Stripes checkpoint (no manifest.json)`);
    expect(existsSync(join(tmp, 'u.png'))).toBe(false);
  });
});
