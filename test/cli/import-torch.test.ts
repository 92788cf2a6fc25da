import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generatorParamSpecs } from '../../shared/model/param-specs.ts';
import { decodeGroup } from '../../shared/weights/checkpoint.ts';
import { readSafetensors, writeSafetensors } from '../../shared/weights/safetensors.ts';
import { readCheckpointDir } from '../../cli/checkpoint-dir.ts';
import { ROOT, stripes } from './run-cli.ts';

// `stripes import-torch` end to end: the fixtures are reference state_dicts written by
// scripts/make_import_fixtures.py; every bad input must fail with one line and write nothing.
const FIX = join(ROOT, 'test/fixtures/torch-import');
const AB = join(FIX, 'G_AB.f32.safetensors');
const BA = join(FIX, 'G_BA.f16.safetensors');
const tmp = mkdtempSync(join(tmpdir(), 'stripes-import-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** A fresh, empty parent folder, so a test can also check that no temp folder is left behind. */
function freshParent(): string {
  const d = join(tmp, `case${n++}`);
  mkdirSync(d);
  return d;
}

/** Rewrites a safetensors file's JSON header (keeping the data bytes), to make lying files. */
function withHeader(src: string, change: (h: Record<string, any>) => void, extraData = new Uint8Array(0)): Uint8Array {
  const bytes = readFileSync(src);
  const len = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + len).toString('utf8'));
  change(header);
  const h = Buffer.from(JSON.stringify(header));
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([out, h, bytes.subarray(8 + len), extraData]);
}

function write(parent: string, name: string, bytes: Uint8Array | string): string {
  const p = join(parent, name);
  writeFileSync(p, bytes);
  return p;
}

function expectFailure(r: ReturnType<typeof stripes>, message: string | RegExp, code = 1) {
  expect(r.code).toBe(code);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0].startsWith('stripes: ')).toBe(true);
  if (typeof message === 'string') expect(lines[0]).toContain(message);
  else expect(lines[0]).toMatch(message);
}

describe('stripes import-torch', () => {
  it('imports F32 G_AB and F16 G_BA into a checkpoint whose groups decode to the PyTorch-permuted values', async () => {
    const parent = freshParent();
    const out = join(parent, 'model');
    const r = stripes('import-torch', AB, BA, '--out', out);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('G_AB and G_BA, ngf 8, 3 blocks');
    expect(readdirSync(parent)).toEqual(['model']);
    const src = await readCheckpointDir(out);
    expect(src.manifest.config).toEqual({ generator: { ngf: 8, nBlocks: 3 }, discriminator: { ndf: 64, nLayers: 3 } });
    expect(Object.keys(src.manifest.groups)).toEqual(['G_AB', 'G_BA']);
    expect(readdirSync(join(out, 'shards')).sort()).toEqual([...new Set([...Object.values(src.manifest.groups), ...Object.values(src.manifest.variants!.float16!)].flatMap((g) => g!.paths))].sort());
    for (const [net, file] of [['G_AB', 'G_AB.stripes.safetensors'], ['G_BA', 'G_BA.stripes.safetensors']] as const) {
      const got = await decodeGroup(src.manifest, net, src.fetchShard);
      const want = readSafetensors(readFileSync(join(FIX, file))).tensors;
      for (const [k, v] of want) expect(got[k], `${net} ${k}`).toEqual(v.data);
      // The float16 download copy is within half-precision rounding of the master.
      const half = await decodeGroup(src.manifest, net, src.fetchShard, { variant: 'float16' });
      for (const [k, v] of want)
        for (let i = 0; i < v.data.length; i++) expect(Math.abs(half[k][i] - v.data[i])).toBeLessThanOrEqual(Math.abs(v.data[i]) * 2 ** -11 + 2 ** -25);
    }
  });

  const badInputs: Array<[string, (parent: string) => string[], string | RegExp]> = [
    ['a file that is not safetensors', (p) => [write(p, 'notes.safetensors', 'just some text, not weights at all')], 'notes.safetensors: not a safetensors file'],
    ['a truncated file', (p) => [write(p, 'cut.safetensors', readFileSync(AB).subarray(0, 50_000))], /cut\.safetensors: tensor "model\.\S+": data_offsets \[\d+, \d+\] run past the data .*truncated/],
    [
      'a header that lies about offsets',
      (p) => [write(p, 'lie.safetensors', withHeader(AB, (h) => { h['model.1.bias'].data_offsets = [0, 32]; }))],
      'lie.safetensors: tensors "model.1.weight" and "model.1.bias" overlap',
    ],
    [
      'an unknown dtype',
      (p) => [write(p, 'bf16.safetensors', withHeader(BA, (h) => { h['model.4.weight'].dtype = 'BF16'; }))],
      'bf16.safetensors: tensor "model.4.weight": unsupported dtype "BF16" (expected F32 or F16)',
    ],
    [
      'a missing key',
      (p) => [write(p, 'missing.safetensors', withHeader(AB, (h) => { delete h['model.16.bias']; }))],
      /missing\.safetensors: keys do not match a ResnetGenerator with ngf 8 and 3 blocks: missing model\.16\.bias \(expected model\.1\.weight, .*, model\.20\.bias\)$/,
    ],
    [
      'an extra key',
      (p) => {
        const bytes = withHeader(AB, (h) => {
          const dataLen = Math.max(...Object.values(h).filter((v: any) => v.data_offsets).map((v: any) => v.data_offsets[1]));
          h['model.21.weight'] = { dtype: 'F32', shape: [1], data_offsets: [dataLen, dataLen + 4] };
        }, new Uint8Array(4));
        return [write(p, 'extra.safetensors', bytes)];
      },
      'extra.safetensors: keys do not match a ResnetGenerator with ngf 8 and 3 blocks: unexpected model.21.weight',
    ],
    [
      'a tensor shape that disagrees with the others',
      (p) => [write(p, 'shape.safetensors', withHeader(AB, (h) => { h['model.4.weight'].shape = [8, 16, 3, 3]; }))],
      'shape.safetensors: "model.4.weight" has shape [8,16,3,3], expected [16,8,3,3] for ngf 8',
    ],
    [
      'a G_BA of another ngf than G_AB',
      (p) => {
        const tensors = generatorParamSpecs({ ngf: 4, nBlocks: 3 }).map((s) => {
          const shape = s.shape.length === 4 ? [s.shape[3], s.shape[2], s.shape[0], s.shape[1]] : s.shape;
          return { name: s.name, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) };
        });
        return [AB, write(p, 'ngf4.safetensors', writeSafetensors(tensors))];
      },
      'ngf4.safetensors (G_BA) has ngf 4 and 3 blocks but',
    ],
    ['a file that does not exist', (p) => [join(p, 'nope.safetensors')], 'nope.safetensors: no such file'],
  ];

  for (const [what, make, message] of badInputs) {
    it(`refuses ${what} with one line, a non-zero exit and nothing written`, () => {
      const parent = freshParent();
      const files = make(parent);
      const before = readdirSync(parent).sort();
      const r = stripes('import-torch', ...files, '--out', join(parent, 'model'));
      expectFailure(r, message);
      expect(readdirSync(parent).sort()).toEqual(before);
    });
  }

  it('never writes into a non-empty folder that is not a checkpoint', () => {
    const parent = freshParent();
    const out = join(parent, 'photos');
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'mine');
    expectFailure(stripes('import-torch', AB, '--out', out, '--force'), 'is not empty and is not a Stripes checkpoint');
    expect(readdirSync(out)).toEqual(['keep.txt']);
    expect(readdirSync(parent)).toEqual(['photos']);
  });

  it('replaces an existing checkpoint only with --force', async () => {
    const parent = freshParent();
    const out = join(parent, 'model');
    expect(stripes('import-torch', AB, '--out', out).code).toBe(0);
    const first = readFileSync(join(out, 'manifest.json'), 'utf8');
    expectFailure(stripes('import-torch', AB, BA, '--out', out), 'already holds a checkpoint (pass --force to replace it)');
    expect(readFileSync(join(out, 'manifest.json'), 'utf8')).toBe(first);
    expect(stripes('import-torch', AB, BA, '--out', out, '--force').code).toBe(0);
    expect(Object.keys((await readCheckpointDir(out)).manifest.groups)).toEqual(['G_AB', 'G_BA']);
    expect(readdirSync(parent)).toEqual(['model']);
  });

  it('treats a missing --out or a third file as a usage error (exit 2)', () => {
    expectFailure(stripes('import-torch', AB), "import-torch: --out is required (see 'stripes import-torch --help')", 2);
    expectFailure(stripes('import-torch', AB, BA, AB, '--out', join(tmp, 'x')), 'unexpected argument', 2);
    expect(existsSync(join(tmp, 'x'))).toBe(false);
  });
});

describe('stripes (dispatcher)', () => {
  it('prints the commands for help and a command usage for --help', () => {
    const h = stripes('help');
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/import-torch +import reference PyTorch/);
    expect(h.stdout).toMatch(/translate +translate an image/);
    const c = stripes('import-torch', '--help');
    expect(c.code).toBe(0);
    expect(c.stdout).toContain('usage: stripes import-torch <G_AB.safetensors>');
  });

  it('rejects an unknown command with exit 2 and the usage', () => {
    const r = stripes('frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe('stripes: unknown command "frobnicate"');
    expect(r.stderr).toContain('usage: stripes <command>');
  });
});
