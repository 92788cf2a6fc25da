/**
 * The `fast` variant of a checkpoint (shared/weights/fast-variant.ts): a distilled student per
 * direction, float16, with its own config, inside the same manifest.
 */
import { describe, expect, it } from 'vitest';
import { presetConfig, type NetworkName } from '../../shared/model/config.ts';
import { studentParamSpecs, type StudentConfig } from '../../shared/model/student-config.ts';
import { decodeGroup, encodeCheckpoint, encodeFastVariant, type NetworkParams } from '../../shared/weights/checkpoint.ts';
import { float16ToFloat32, float32ToFloat16 } from '../../shared/weights/float16.ts';
import { allShards, specsFor, validateManifest } from '../../shared/weights/manifest.ts';
import { defaultQuality, fastGroupToFetch, hasFast } from '../../web/src/lib/weights.ts';

const config = presetConfig('tiny');
const student: StudentConfig = { arch: 'mobile-resnet', ngf: 2, nBlocks: 2 };

function values(specs: { name: string; shape: number[] }[], seed: number): NetworkParams {
  let s = seed;
  const out: NetworkParams = {};
  for (const spec of specs) {
    const v = new Float32Array(spec.shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < v.length; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      v[i] = (s / 2 ** 32) * 2 - 1;
    }
    out[spec.name] = v;
  }
  return out;
}
const teacher = (net: NetworkName, seed: number) => values(specsFor(net, config), seed);

async function withFast() {
  const { manifest, shards } = await encodeCheckpoint(config, { G_AB: teacher('G_AB', 1), G_BA: teacher('G_BA', 2), D_A: teacher('D_A', 3) });
  const studentAB = values(studentParamSpecs(student), 10);
  const studentBA = values(studentParamSpecs(student), 11);
  manifest.variants!.fast = await encodeFastVariant(student, { G_AB: studentAB, G_BA: studentBA }, shards);
  return { manifest, shards, studentAB, studentBA };
}

describe('the fast (distilled student) variant', () => {
  it('is validated, lists its shards, and decodes to the float16-rounded student', async () => {
    const { manifest, shards, studentAB } = await withFast();
    const json = JSON.parse(JSON.stringify(manifest));
    const back = validateManifest(json);
    expect(back.variants?.fast?.config).toEqual(student);
    expect(back).toEqual(manifest);
    const named = new Set(allShards(back).map((s) => s.hash));
    for (const g of Object.values(back.variants!.fast!.groups)) for (const p of g!.paths) expect(named.has(p)).toBe(true);
    expect(back.variants!.fast!.groups.G_AB!.weights.every((w) => w.dtype === 'float16')).toBe(true);
    const fetched: string[] = [];
    const params = await decodeGroup(back, 'G_AB', async (h) => (fetched.push(h), shards.get(h)!), { variant: 'fast' });
    // Only the student's shards are fetched, not the teacher's.
    expect(fetched).toEqual(back.variants!.fast!.groups.G_AB!.paths);
    expect(Object.keys(params)).toEqual(studentParamSpecs(student).map((s) => s.name));
    for (const [k, v] of Object.entries(studentAB)) expect(params[k]).toEqual(float16ToFloat32(float32ToFloat16(v)));
  });

  it('rejects a student without its teacher, an unknown generator, a bad config or misshapen weights, naming the field', async () => {
    const { manifest } = await withFast();
    const bad = (mutate: (m: any) => void) => {
      const m = JSON.parse(JSON.stringify(manifest));
      mutate(m);
      return () => validateManifest(m);
    };
    expect(bad((m) => (delete m.groups.G_BA, delete m.variants.float16.G_BA))).toThrow(/variants\.fast\.groups\.G_BA has no teacher/);
    expect(bad((m) => (m.variants.fast.groups.D_A = m.variants.fast.groups.G_AB))).toThrow(/unknown generator "D_A"/);
    expect(bad((m) => (m.variants.fast.config.arch = 'resnet'))).toThrow(/variants\.fast\.student config: arch/);
    expect(bad((m) => (m.variants.fast.config.ngf = 3))).toThrow(/variants\.fast\.groups\.G_AB.*shape/);
    expect(bad((m) => (m.variants.fast.groups.G_AB.weights[0].dtype = 'float32'))).toThrow(/dtype "float32", expected float16/);
    expect(bad((m) => (m.variants.fast.groups = {}))).toThrow(/at least one generator/);
    expect(bad((m) => (m.variants.fast.extra = 1))).toThrow(/unknown field "extra"/);
    expect(bad((m) => (m.variants.faster = {}))).toThrow(/unknown variant "faster"/);
  });

  it('decoding a fast generator a checkpoint lacks says what it holds', async () => {
    const { manifest, shards } = await encodeCheckpoint(config, { G_AB: teacher('G_AB', 1) });
    await expect(decodeGroup(manifest, 'G_AB', async (h) => shards.get(h)!, { variant: 'fast' })).rejects.toThrow(/no fast G_AB group/);
  });
});

describe('the web app picks the fast variant', () => {
  it('by default on WASM and software GPUs, the full generator on a real GPU', () => {
    expect(defaultQuality('wasm')).toBe('fast');
    expect(defaultQuality(null)).toBe('fast');
    expect(defaultQuality('webgl', true)).toBe('fast');
    expect(defaultQuality('webgpu', true)).toBe('fast');
    expect(defaultQuality('webgpu')).toBe('full');
    expect(defaultQuality('webgl')).toBe('full');
  });

  it('finds the student group and its config, or says there is none', async () => {
    const { manifest } = await withFast();
    expect(hasFast(manifest, 'G_BA')).toBe(true);
    expect(fastGroupToFetch(manifest, 'G_AB')).toEqual({ group: manifest.variants!.fast!.groups.G_AB, config: student });
    delete manifest.variants!.fast;
    expect(hasFast(manifest, 'G_AB')).toBe(false);
    expect(fastGroupToFetch(manifest, 'G_AB')).toBeNull();
  });
});
