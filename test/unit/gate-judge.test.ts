/**
 * The gate's verdict (shared/gate/judge.ts): the rules on hand-made metrics, then whole
 * evaluations: tiny random generators (NaN weights, a constant head) and the demo pair's trained
 * `small` generators against a heavily perturbed copy of themselves.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_GATE_TOLERANCE,
  combineDirections,
  directionMetrics,
  evaluatePair,
  judge,
  prepareGenerator,
  swdReference,
  translateAndCycle,
  type GateMetrics,
  type GeneratorParams,
  type ValidationSet,
} from '../../shared/gate/index.ts';
import { generatorParamSpecs } from '../../shared/model/param-specs.ts';
import { Rng } from '../../shared/train/rng.ts';
import { toUnit } from '../../shared/train/sampling.ts';
import { decodeGroup } from '../../shared/weights/checkpoint.ts';
import { validateManifest } from '../../shared/weights/manifest.ts';
import { decodeImage } from '../../cli/image-io.ts';

const BASE: GateMetrics = Object.freeze({
  cycleA: 0.16,
  cycleB: 0.15,
  realismAB: 0.22,
  realismBA: 0.23,
  spreadAB: 0.32,
  spreadBA: 0.2,
  variationAB: 0.3,
  variationBA: 0.18,
  finite: true,
});

describe('judge', () => {
  it('passes a candidate equal to the base, or better, or worse within the tolerance', () => {
    expect(judge({ ...BASE }, BASE)).toEqual({ pass: true, reasons: [] });
    expect(judge({ ...BASE, cycleA: 0.1, realismAB: 0.15, spreadAB: 0.4 }, BASE).pass).toBe(true);
    expect(judge({ ...BASE, cycleA: 0.16 * 1.25 + 0.004, realismBA: 0.23 * 1.15 + 0.009 }, BASE).pass).toBe(true);
  });

  it('rejects non-finite outputs, whether flagged, NaN, or null after a JSON round trip', () => {
    const flagged = judge({ ...BASE, finite: false }, BASE);
    expect(flagged.pass).toBe(false);
    expect(flagged.reasons).toEqual([expect.stringMatching(/not finite/)]);
    expect(judge({ ...BASE, realismBA: NaN }, BASE).reasons[0]).toMatch(/realismBA NaN or infinite/);
    const viaJson = JSON.parse(JSON.stringify({ ...BASE, cycleA: NaN, spreadAB: Infinity })) as GateMetrics;
    expect(judge(viaJson, BASE).reasons[0]).toMatch(/cycleA, spreadAB NaN or infinite/);
  });

  it('rejects constant outputs, and outputs that ignore the input', () => {
    const constant = judge({ ...BASE, spreadBA: 0.001, variationBA: 0 }, BASE);
    expect(constant.pass).toBe(false);
    expect(constant.reasons).toEqual([
      'The B→A outputs are nearly constant: spreadBA 1.00e-3 is below the floor of 0.0200 (base 0.2000).',
      'The B→A outputs barely depend on the input: variationBA 0.0000 is below the floor of 0.0100 (base 0.1800).',
    ]);
    const ignoring = judge({ ...BASE, variationAB: 0.004 }, BASE);
    expect(ignoring.reasons).toEqual([expect.stringMatching(/A→B outputs barely depend on the input: variationAB 4.00e-3/)]);
  });

  it('rejects a collapse relative to the base even above the absolute floors', () => {
    const v = judge({ ...BASE, spreadAB: 0.15, variationAB: 0.14 }, BASE);
    expect(v.pass).toBe(false);
    expect(v.reasons).toEqual([
      'The A→B outputs collapsed: spreadAB fell to 0.1500 from the base\'s 0.3200 (below 0.5× the base).',
      'The A→B outputs collapsed: variationAB fell to 0.1400 from the base\'s 0.3000 (below 0.5× the base).',
    ]);
  });

  it('rejects a candidate worse than the base on any cycle or realism metric, naming it and both values', () => {
    const v = judge({ ...BASE, cycleB: 0.2, realismAB: 0.3 }, BASE);
    expect(v.pass).toBe(false);
    expect(v.reasons).toEqual([
      'Cycle consistency B→A→B got worse: cycleB is 0.2000 against the base\'s 0.1500 (allowed up to 0.1925: +25% + 0.005).',
      'Realism of A→B translations got worse: realismAB is 0.3000 against the base\'s 0.2200 (allowed up to 0.2630: +15% + 0.01).',
    ]);
  });

  it('uses the tolerance it is given, and does not hold a base\'s missing number against the candidate', () => {
    expect(judge({ ...BASE, cycleA: 0.17 }, BASE, { ...DEFAULT_GATE_TOLERANCE, cycleRelative: 0, cycleAbsolute: 0 }).pass).toBe(false);
    expect(judge({ ...BASE, realismAB: 0.5 }, { ...BASE, realismAB: NaN }).pass).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------

function randomParams(cfg: { ngf: number; nBlocks: number }, seed: number): GeneratorParams {
  const rng = new Rng(seed);
  const p: GeneratorParams = {};
  for (const s of generatorParamSpecs(cfg)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const fanIn = s.shape.length === 4 ? s.shape[0] * s.shape[1] * s.shape[2] : 1;
    p[s.name] = Float32Array.from({ length: n }, () => ((rng.random() * 2 - 1) * 1.7) / Math.sqrt(fanIn));
  }
  return p;
}

function randomSet(n: number, side: number, seed: number): ValidationSet {
  const rng = new Rng(seed);
  const images = Array.from({ length: n }, () => {
    // Smooth random colour fields: more image-like than white noise.
    const x = new Float32Array(side * side * 3);
    const c = [rng.random(), rng.random(), rng.random()].map((v) => v * 2 - 1);
    for (let i = 0; i < x.length; i++) x[i] = Math.max(-1, Math.min(1, c[i % 3] + 0.3 * Math.sin(i / 37 + c[0] * 9)));
    return x;
  });
  return { count: n, height: side, width: side, images };
}

describe('evaluatePair on tiny generators', () => {
  const cfg = { ngf: 4, nBlocks: 1 };
  const valA = randomSet(8, 32, 1);
  const valB = randomSet(8, 32, 2);
  const pAB = randomParams(cfg, 3);
  const pBA = randomParams(cfg, 4);
  // A lighter SWD than the default: these tests check the plumbing, not the statistic.
  const swd = { descriptorsPerLevel: 256, directions: 32 };

  it('composes translateAndCycle and directionMetrics; the same version passes against itself', () => {
    const m = evaluatePair(cfg, pAB, pBA, valA, valB, { swd });
    expect(m.finite).toBe(true);
    for (const k of ['cycleA', 'cycleB', 'realismAB', 'realismBA', 'spreadAB', 'spreadBA', 'variationAB', 'variationBA'] as const)
      expect(Number.isFinite(m[k]) && m[k] > 0, k).toBe(true);
    // The same numbers from the finer-grained pieces the Durable Object calls.
    const gAB = prepareGenerator(cfg, pAB);
    const gBA = prepareGenerator(cfg, pBA);
    const ab = valA.images.map((x) => translateAndCycle(gAB, gBA, x, 32, 32));
    const ba = valB.images.map((x) => translateAndCycle(gBA, gAB, x, 32, 32));
    expect(ab[0].fake.length).toBe(32 * 32 * 3);
    const pieces = combineDirections(directionMetrics(ab, swdReference(valB.images, 32, 32, swd)), directionMetrics(ba, swdReference(valA.images, 32, 32, swd)));
    expect(pieces).toEqual(m);
    expect(evaluatePair(cfg, gAB, gBA, valA, valB, { swd })).toEqual(m);
    expect(judge(m, m).pass).toBe(true);
  });

  it('a candidate with a NaN weight is rejected as not finite', () => {
    const bad = { ...pBA, 'model.7.bias': pBA['model.7.bias'].slice() };
    bad['model.7.bias'][0] = NaN;
    const m = evaluatePair(cfg, pAB, bad, valA, valB, { swd });
    expect(m.finite).toBe(false);
    const v = judge(m, evaluatePair(cfg, pAB, pBA, valA, valB, { swd }));
    expect(v.pass).toBe(false);
    expect(v.reasons[0]).toMatch(/not finite/);
  });

  it('a candidate whose G_AB outputs a constant colour is rejected as collapsed', () => {
    const head = `model.${17 + cfg.nBlocks}`;
    const flat = { ...pAB, [`${head}.weight`]: new Float32Array(pAB[`${head}.weight`].length), [`${head}.bias`]: Float32Array.from([0.3, -0.2, 0.5]) };
    const base = evaluatePair(cfg, pAB, pBA, valA, valB, { swd });
    const m = evaluatePair(cfg, flat, pBA, valA, valB, { swd });
    expect(m.spreadAB).toBeLessThan(1e-6);
    const v = judge(m, base);
    expect(v.pass).toBe(false);
    expect(v.reasons.join(' ')).toMatch(/A→B outputs are nearly constant: spreadAB/);
    expect(v.reasons.join(' ')).toMatch(/A→B outputs barely depend on the input: variationAB/);
  });

  it('rejects validation sets of different sizes', () => {
    expect(() => evaluatePair(cfg, pAB, pBA, valA, randomSet(8, 36, 5))).toThrow(/valA is 32×32 but valB 36×36/);
  });
});

describe('the demo pair (trained small generators) through the gate', () => {
  it('passes against itself; a copy with every weight perturbed by its own std fails on cycle consistency and realism', async () => {
    const root = new URL('../../', import.meta.url);
    const manifest = validateManifest(JSON.parse(readFileSync(new URL('demo/checkpoint/manifest.json', root), 'utf8')));
    const shard = async (h: string) => new Uint8Array(readFileSync(new URL(`demo/checkpoint/shards/${h}`, root)));
    const cfg = manifest.config.generator;
    const pAB = await decodeGroup(manifest, 'G_AB', shard);
    const pBA = await decodeGroup(manifest, 'G_BA', shard);
    // 8 tiles of 64×64 per domain, one from each quarter of the three held-out maps.
    const tiles = (domain: string) =>
      [1, 2, 3].flatMap((i) => {
        const img = decodeImage(readFileSync(new URL(`demo/samples/${domain}-${i}-before.png`, root)));
        return [[0, 0], [128, 128], [0, 192]].map(([ty, tx]) => {
          const t = new Float32Array(64 * 64 * 3);
          for (let y = 0; y < 64; y++) for (let j = 0; j < 192; j++) t[y * 192 + j] = toUnit(img.data[((ty + y) * img.width + tx) * 3 + j]);
          return t;
        });
      }).slice(0, 8);
    const valA: ValidationSet = { count: 8, height: 64, width: 64, images: tiles('summer-to-winter') };
    const valB: ValidationSet = { count: 8, height: 64, width: 64, images: tiles('winter-to-summer') };
    const refA = swdReference(valA.images, 64, 64);
    const refB = swdReference(valB.images, 64, 64);
    const base = evaluatePair(cfg, pAB, pBA, valA, valB, { refA, refB });
    expect(judge(base, base).pass).toBe(true);
    // A trained generator's fakes are much closer to the target domain than the untranslated inputs.
    expect(base.realismAB).toBeLessThan(0.5 * directionMetrics(valA.images.map((fake) => ({ fake, cycleL1: 0, finite: true })), refB).realism);

    const rng = new Rng(9);
    const gauss = () => Math.sqrt(-2 * Math.log(1 - rng.random())) * Math.cos(2 * Math.PI * rng.random());
    const perturb = (p: GeneratorParams) =>
      Object.fromEntries(Object.entries(p).map(([k, v]) => {
        const m = v.reduce((a, b) => a + b, 0) / v.length;
        const sd = Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length);
        return [k, v.map((x) => x + sd * gauss())];
      }));
    const cand = evaluatePair(cfg, perturb(pAB), perturb(pBA), valA, valB, { refA, refB });
    const v = judge(cand, base);
    expect(v.pass).toBe(false);
    const all = v.reasons.join(' ');
    for (const metric of ['cycleA', 'realismAB']) expect(all).toContain(metric);
  });
});
