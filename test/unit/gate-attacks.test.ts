/**
 * Attacks on a trained pair, stopped where the round stops them. The pair is the demo (Wesnoth
 * summer ↔ winter, small preset) with its held-out validation images; each attack is a delta a
 * contributor could upload, applied as a quorum-1 round would (the default outer Nesterov step),
 * and then measured by the same quality gate the round's Durable Object runs.
 *
 *   attack                                   stopped by
 *   delta ×100 of an honest-sized one        the commit's norm bound (never aggregated)
 *   colour inversion of both generators      the norm bound, or the gate where the bound is loose
 *   sign-flipped / random, at the norm bound neutralised: at the fine-tuning lr the bound leaves
 *                                            them too small to matter (the gate passes them
 *                                            within its tolerance); at the loose bound rounds
 *                                            used to lease (lr 2e-4) the gate rejects them
 *
 * The metrics of each are printed (the closing note and docs/gate.md quote them). Sybils (one
 * token, many leases) are stopped before any of this: test/worker/rounds-gate.test.ts.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCheckpointDir } from '../../cli/checkpoint-dir.ts';
import { validationSetFromFolder } from '../../cli/validation-set.ts';
import { evaluatePair, judge, type GateMetrics } from '../../shared/gate/judge.ts';
import { swdReference } from '../../shared/gate/metrics.ts';
import { decodeValidationSet } from '../../shared/gate/validation-set.ts';
import { GENERATORS, type GeneratorName } from '../../shared/model/config.ts';
import { flattenNetwork } from '../../shared/rounds/delta.ts';
import { outerStep } from '../../shared/rounds/outer-optimizer.ts';
import { DEFAULT_ROUND_CONFIG, innerLrAt } from '../../shared/rounds/protocol.ts';
import { roundScheduleFor } from '../../shared/rounds/schedule.ts';
import { normBound } from '../../shared/rounds/validate.ts';
import { decodeGroup } from '../../shared/weights/checkpoint.ts';
import { specsFor } from '../../shared/weights/manifest.ts';

const DEMO = join(import.meta.dirname, '../../demo');

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

const norm = (x: Float32Array) => Math.sqrt(x.reduce((a, v) => a + v * v, 0));
const scaleTo = (x: Float32Array, n: number) => {
  const k = n / norm(x);
  return x.map((v) => v * k);
};

describe('attacks on a trained pair (the demo)', () => {
  it('each is refused at commit or rejected by the gate; an honest-sized nudge passes', { timeout: 300_000 }, async () => {
    const ckpt = await readCheckpointDir(join(DEMO, 'checkpoint'));
    const config = ckpt.manifest.config;
    const valA = decodeValidationSet(validationSetFromFolder(join(DEMO, 'validation', 'A'), 'A').bytes);
    const valB = decodeValidationSet(validationSetFromFolder(join(DEMO, 'validation', 'B'), 'B').bytes);
    const refs = { refA: swdReference(valA.images, valA.height, valA.width), refB: swdReference(valB.images, valB.height, valB.width) };
    const params = {} as Record<GeneratorName, Record<string, Float32Array>>;
    for (const g of GENERATORS) params[g] = await decodeGroup(ckpt.manifest, g, ckpt.fetchShard);
    const measure = (p: Record<GeneratorName, Record<string, Float32Array>>) => evaluatePair(config.generator, p.G_AB, p.G_BA, valA, valB, refs);
    const base = measure(params);

    // What a round on the demo leases: its schedule continued or fine-tuned, K inner steps.
    const cfg = { ...DEFAULT_ROUND_CONFIG, train: { ...DEFAULT_ROUND_CONFIG.train, steps: 20, cropSize: 64 } };
    const sched = roundScheduleFor(ckpt.manifest.meta, cfg);
    const train = { ...cfg.train, lr: innerLrAt(sched.position, sched.schedule) };
    const outer = cfg.outer.generators;

    /** The candidate a quorum-1 round makes from one delta per generator (flattened, param-spec order). */
    const candidate = (delta: Record<GeneratorName, Float32Array>) => {
      const out = {} as Record<GeneratorName, Record<string, Float32Array>>;
      for (const g of GENERATORS) {
        const flat = flattenNetwork(config, g, params[g]).slice();
        outerStep(flat, new Float32Array(flat.length), delta[g], outer);
        out[g] = {};
        let o = 0;
        for (const s of specsFor(g, config)) {
          const n = s.shape.reduce((a, b) => a * b, 1);
          out[g][s.name] = flat.slice(o, o + n);
          o += n;
        }
      }
      return out;
    };
    const length = (g: GeneratorName) => flattenNetwork(config, g, params[g]).length;
    const bound = (g: GeneratorName) => normBound(train, train.steps, length(g));

    // An honest-sized change: what K Adam steps at the leased lr typically move (≈ lr per weight
    // per step, not all in the same direction), in a random direction.
    const honestNorm = (g: GeneratorName) => train.lr * Math.sqrt(train.steps) * Math.sqrt(length(g));
    const noise = (g: GeneratorName, seed: number) => {
      const r = rng(seed);
      return Float32Array.from({ length: length(g) }, () => r());
    };

    const rows: Array<{ attack: string; stage: string; metrics?: GateMetrics; reasons?: string[] }> = [];
    const judgeAttack = (attack: string, delta: Record<GeneratorName, Float32Array>) => {
      const over = GENERATORS.filter((g) => norm(delta[g]) > bound(g));
      if (over.length) {
        rows.push({ attack, stage: `refused at commit: ‖δ‖ ${over.map((g) => `${g} ${norm(delta[g]).toFixed(2)} > bound ${bound(g).toFixed(2)}`).join(', ')}` });
        return 'refused' as const;
      }
      const m = measure(candidate(delta));
      const v = judge(m, base);
      rows.push({ attack, stage: v.pass ? 'passed the gate' : 'rejected by the gate', metrics: m, reasons: v.reasons });
      return v.pass ? ('passed' as const) : ('rejected' as const);
    };

    const honest = { G_AB: scaleTo(noise('G_AB', 1), honestNorm('G_AB')), G_BA: scaleTo(noise('G_BA', 2), honestNorm('G_BA')) };
    expect(judgeAttack('honest-sized random nudge', honest)).toBe('passed');
    expect(judgeAttack('the same ×100', { G_AB: honest.G_AB.map((v) => v * 100), G_BA: honest.G_BA.map((v) => v * 100) })).toBe('refused');
    // At the leased lr the bound itself neutralises a legal delta in any direction.
    const flip = { G_AB: scaleTo(honest.G_AB, -0.999 * bound('G_AB')), G_BA: scaleTo(honest.G_BA, -0.999 * bound('G_BA')) };
    expect(['refused', 'rejected', 'passed']).toContain(judgeAttack('sign-flipped, at the norm bound', flip));

    // Colour inversion: the last conv's weights and bias negated, so G(x) becomes −G(x). The
    // outer step multiplies a delta by lr·(1 + momentum) = 1.33, so the delta is −2/1.33 of them.
    const k = 2 / (outer.lr * (1 + outer.momentum));
    const invert = (g: GeneratorName) => {
      const flat = flattenNetwork(config, g, params[g]);
      const specs = specsFor(g, config);
      const d = new Float32Array(flat.length);
      const tail = specs.slice(-2).reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
      for (let i = flat.length - tail; i < flat.length; i++) d[i] = -k * flat[i];
      return d;
    };
    const inversion = { G_AB: invert('G_AB'), G_BA: invert('G_BA') };
    expect(['refused', 'rejected']).toContain(judgeAttack('colour inversion', inversion));
    // Where an owner set a loose bound (lr 2e-4, as rounds used to lease), the gate alone must stop it.
    const loose = { ...train, lr: 2e-4 };
    for (const g of GENERATORS) expect(norm(inversion[g])).toBeLessThan(normBound(loose, train.steps, length(g)));
    const m = measure(candidate(inversion));
    const v = judge(m, base);
    rows.push({ attack: 'colour inversion under a loose bound (lr 2e-4)', stage: v.pass ? 'passed the gate' : 'rejected by the gate', metrics: m, reasons: v.reasons });
    expect(v.pass).toBe(false);

    judgeAttack('random noise at the norm bound', { G_AB: scaleTo(noise('G_AB', 3), 0.999 * bound('G_AB')), G_BA: scaleTo(noise('G_BA', 4), 0.999 * bound('G_BA')) });
    // At the loose bound, only the gate stands between these deltas and the pair.
    for (const [attack, seedA, seedB, sign] of [['sign-flipped', 1, 2, -1], ['random noise', 3, 4, 1]] as const) {
      const d = { G_AB: scaleTo(noise('G_AB', seedA), sign * 0.999 * normBound(loose, train.steps, length('G_AB'))), G_BA: scaleTo(noise('G_BA', seedB), sign * 0.999 * normBound(loose, train.steps, length('G_BA'))) };
      const mm = measure(candidate(d));
      const vv = judge(mm, base);
      rows.push({ attack: `${attack} at the loose bound (lr 2e-4)`, stage: vv.pass ? 'passed the gate' : 'rejected by the gate', metrics: mm, reasons: vv.reasons });
      expect(vv.pass, `${attack} at the loose bound passed: ${JSON.stringify(mm)}`).toBe(false);
    }

    const f = (x: number | boolean | undefined) => (typeof x === 'number' ? x.toFixed(4) : String(x));
    console.log(
      [
        `demo pair: leased lr ${train.lr.toExponential(2)} (${sched.why}), K ${train.steps}; base cycle ${f(base.cycleA)}/${f(base.cycleB)} realism ${f(base.realismAB)}/${f(base.realismBA)}`,
        ...rows.map((r) => `${r.attack}: ${r.stage}${r.metrics ? ` — cycle ${f(r.metrics.cycleA)}/${f(r.metrics.cycleB)} realism ${f(r.metrics.realismAB)}/${f(r.metrics.realismBA)} spread ${f(r.metrics.spreadAB)}/${f(r.metrics.spreadBA)}` : ''}${r.reasons?.length ? ` (${r.reasons[0]})` : ''}`),
      ].join('\n'),
    );
  });
});
