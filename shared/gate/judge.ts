/**
 * The quality gate's verdict: may a round's candidate version replace its base? Both versions'
 * generators are run on the pair's validation images (forward.ts), measured (metrics.ts), and the
 * candidate is compared with the base (`judge`). Plain TypeScript; runs in a Durable Object.
 *
 * Work can be split as finely as a caller needs: `translateAndCycle` is one image (two generator
 * forwards), `directionMetrics` folds one direction's results, `combineDirections` makes the
 * GateMetrics; `evaluatePair` does all of it in one call.
 */
import type { GeneratorConfig } from '../model/config.ts';
import { prepareGenerator, runGenerator, type GeneratorParams, type PreparedGenerator } from './forward.ts';
import { allFinite, cycleL1, spreadStats, swdReference, swdTo, type SwdOptions, type SwdReference } from './metrics.ts';
import type { ValidationSet } from './validation-set.ts';

/**
 * What the gate knows about one version. Plain numbers, so it can be stored as JSON; a value that
 * is not a finite number (NaN, or null after JSON) counts as non-finite.
 *
 * Direction AB is G_AB applied to the A validation images (cycled back through G_BA); BA the reverse.
 */
export interface GateMetrics {
  /** Mean over valA of the cycle L1 |G_BA(G_AB(a)) − a|, in [-1, 1] pixel units (0 is perfect). */
  cycleA: number;
  /** Mean over valB of |G_AB(G_BA(b)) − b|. */
  cycleB: number;
  /** Sliced Wasserstein distance of the fakes G_AB(valA) from the real valB (lower is more realistic). */
  realismAB: number;
  /** SWD of G_BA(valB) from valA. */
  realismBA: number;
  /** Std of the fakes G_AB(valA) over all pixels and images, mean of the three channels' (0 = constant output). */
  spreadAB: number;
  spreadBA: number;
  /** Mean over pixels of the std across images of G_AB(valA) (0 = the same picture whatever the input). */
  variationAB: number;
  variationBA: number;
  /** Every fake and reconstruction was finite. */
  finite: boolean;
}

export interface GateTolerance {
  /** A cycle metric fails when candidate > base · (1 + cycleRelative) + cycleAbsolute. */
  cycleRelative: number;
  cycleAbsolute: number;
  /** A realism metric fails when candidate > base · (1 + realismRelative) + realismAbsolute. */
  realismRelative: number;
  realismAbsolute: number;
  /** Collapsed outright when a spread is below this. */
  minSpread: number;
  /** Collapsed outright when a variation is below this. */
  minVariation: number;
  /** Collapsed relative to the base when a spread or variation is below this fraction of the base's. */
  collapseRatio: number;
}

/**
 * Why these values (docs/gate.md has the measurements, from scripts/gate-measure.ts and
 * scripts/gate-round-drift.ts on the demo pair, 16 + 16 validation tiles of 64×64):
 *
 * - cycleRelative 0.25, cycleAbsolute 0.005: training trades cycle consistency for realism; honest
 *   30- and 50-iteration continuations made the cycle 4–18% worse while realism mostly improved,
 *   so 10% would reject honest rounds. A broken candidate (every weight perturbed by its own std)
 *   is 75–84% worse. 0.005 (0.6 of a grey level) keeps a near-perfect base from failing every
 *   candidate on rounding.
 * - realismRelative 0.15, realismAbsolute 0.01: the SWD moves 2.3% (std) from seed to seed and
 *   at most 3% between nearby versions under one seed; 15% is well clear of that, so what fails
 *   is a real change: a damaged candidate (+21%), a contributor's run that oscillated away
 *   (+58%), doing nothing (5–7× a trained pair). 0.01 is a
 *   tenth of the distance between two halves of the same real set.
 * - minSpread 0.02, minVariation 0.01: in [-1, 1] units 0.02 is 2.5 grey levels of std, a blank
 *   image; real tiles measure 0.4, the demo's fakes 0.2–0.3.
 * - collapseRatio 0.5: honest runs moved spread and variation by at most 26%; halving in one
 *   round is collapse setting in even while the absolute numbers still look alive.
 */
export const DEFAULT_GATE_TOLERANCE: Readonly<GateTolerance> = Object.freeze({
  cycleRelative: 0.25,
  cycleAbsolute: 0.005,
  realismRelative: 0.15,
  realismAbsolute: 0.01,
  minSpread: 0.02,
  minVariation: 0.01,
  collapseRatio: 0.5,
});

export interface Verdict {
  pass: boolean;
  /** One plain sentence per failed check, naming the metric and both values; empty when it passes. */
  reasons: string[];
}

const METRIC_NAMES = ['cycleA', 'cycleB', 'realismAB', 'realismBA', 'spreadAB', 'spreadBA', 'variationAB', 'variationBA'] as const;

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const fmt = (v: number) => (Math.abs(v) >= 0.01 || v === 0 ? v.toFixed(4) : v.toExponential(2));

/** Compares a candidate's metrics with its base's. The base is trusted: only the candidate can fail. */
export function judge(candidate: GateMetrics, base: GateMetrics, tol: Readonly<GateTolerance> = DEFAULT_GATE_TOLERANCE): Verdict {
  const reasons: string[] = [];
  const bad = METRIC_NAMES.filter((k) => !isNum(candidate[k]));
  if (candidate.finite !== true || bad.length) {
    reasons.push(
      `The candidate's outputs are not finite numbers (${bad.length ? bad.join(', ') : 'some generated pixels'} NaN or infinite).`,
    );
    return { pass: false, reasons };
  }
  const baseOk = (k: (typeof METRIC_NAMES)[number]) => isNum(base[k]);

  // Collapse: near-constant outputs, absolutely or against the base.
  for (const d of ['AB', 'BA'] as const) {
    const dir = d === 'AB' ? 'A→B' : 'B→A';
    const spread = candidate[`spread${d}`];
    const variation = candidate[`variation${d}`];
    if (spread < tol.minSpread)
      reasons.push(`The ${dir} outputs are nearly constant: spread${d} ${fmt(spread)} is below the floor of ${fmt(tol.minSpread)} (base ${fmtMaybe(base[`spread${d}`])}).`);
    else if (baseOk(`spread${d}`) && spread < tol.collapseRatio * base[`spread${d}`])
      reasons.push(`The ${dir} outputs collapsed: spread${d} fell to ${fmt(spread)} from the base's ${fmt(base[`spread${d}`])} (below ${tol.collapseRatio}× the base).`);
    if (variation < tol.minVariation)
      reasons.push(`The ${dir} outputs barely depend on the input: variation${d} ${fmt(variation)} is below the floor of ${fmt(tol.minVariation)} (base ${fmtMaybe(base[`variation${d}`])}).`);
    else if (baseOk(`variation${d}`) && variation < tol.collapseRatio * base[`variation${d}`])
      reasons.push(`The ${dir} outputs collapsed: variation${d} fell to ${fmt(variation)} from the base's ${fmt(base[`variation${d}`])} (below ${tol.collapseRatio}× the base).`);
  }

  // Worse than the base by more than the tolerance.
  const worse = (k: 'cycleA' | 'cycleB' | 'realismAB' | 'realismBA', rel: number, abs: number, what: string) => {
    if (!baseOk(k)) return; // a base without this number cannot be beaten on it
    const limit = base[k] * (1 + rel) + abs;
    if (candidate[k] > limit)
      reasons.push(
        `${what} got worse: ${k} is ${fmt(candidate[k])} against the base's ${fmt(base[k])} (allowed up to ${fmt(limit)}: +${Math.round(rel * 100)}% + ${abs}).`,
      );
  };
  worse('cycleA', tol.cycleRelative, tol.cycleAbsolute, 'Cycle consistency A→B→A');
  worse('cycleB', tol.cycleRelative, tol.cycleAbsolute, 'Cycle consistency B→A→B');
  worse('realismAB', tol.realismRelative, tol.realismAbsolute, 'Realism of A→B translations');
  worse('realismBA', tol.realismRelative, tol.realismAbsolute, 'Realism of B→A translations');
  return { pass: reasons.length === 0, reasons };
}

function fmtMaybe(v: unknown): string {
  return isNum(v) ? fmt(v) : 'unknown';
}

// ---------------------------------------------------------------------------------------------
// Measuring a version

export interface TranslateResult {
  /** forward(x): the translation, HWC in [-1, 1]. */
  fake: Float32Array;
  /** Mean |back(forward(x)) − x|; NaN when any output is not finite. */
  cycleL1: number;
  /** Both the fake and its reconstruction were finite. */
  finite: boolean;
}

/** One image's unit of work: translate it with `forward` and cycle it back with `back` (two generator forwards). */
export function translateAndCycle(forward: PreparedGenerator, back: PreparedGenerator, x: Float32Array, height: number, width: number): TranslateResult {
  const fake = runGenerator(forward, x, height, width);
  const rec = runGenerator(back, fake, height, width);
  const finite = allFinite(fake) && allFinite(rec);
  return { fake, cycleL1: finite ? cycleL1(x, rec) : NaN, finite };
}

/** One direction's numbers, from all its images' `translateAndCycle` results and the target domain's SWD reference. */
export interface DirectionMetrics {
  cycle: number;
  realism: number;
  spread: number;
  variation: number;
  finite: boolean;
}

export function directionMetrics(results: readonly TranslateResult[], target: SwdReference): DirectionMetrics {
  if (results.length === 0) throw new Error('directionMetrics: no images');
  const finite = results.every((r) => r.finite);
  if (!finite) return { cycle: NaN, realism: NaN, spread: NaN, variation: NaN, finite };
  const fakes = results.map((r) => r.fake);
  const s = spreadStats(fakes);
  return {
    cycle: results.reduce((a, r) => a + r.cycleL1, 0) / results.length,
    realism: swdTo(target, fakes).distance,
    spread: s.std,
    variation: s.betweenImageStd,
    finite,
  };
}

export function combineDirections(ab: DirectionMetrics, ba: DirectionMetrics): GateMetrics {
  return {
    cycleA: ab.cycle,
    cycleB: ba.cycle,
    realismAB: ab.realism,
    realismBA: ba.realism,
    spreadAB: ab.spread,
    spreadBA: ba.spread,
    variationAB: ab.variation,
    variationBA: ba.variation,
    finite: ab.finite && ba.finite,
  };
}

export interface EvaluateOptions {
  /** SWD settings (used only to make refA/refB when they are not given); the candidate and the base must be measured with the same ones. */
  swd?: Partial<SwdOptions>;
  /** SWD references of the real sets, if already made (`swdReference(valA.images, …)`): saves their cost when measuring several versions. */
  refA?: SwdReference;
  refB?: SwdReference;
}

/**
 * Measures one version on the validation sets: every A image through G_AB and back through G_BA,
 * every B image through G_BA and back. 2·(|valA| + |valB|) generator forwards
 * (`macsPerImage` each) plus the SWD (well under a second for 16 images of 64×64).
 */
export function evaluatePair(
  config: GeneratorConfig,
  G_AB: GeneratorParams | PreparedGenerator,
  G_BA: GeneratorParams | PreparedGenerator,
  valA: ValidationSet,
  valB: ValidationSet,
  opts: EvaluateOptions = {},
): GateMetrics {
  if (valA.height !== valB.height || valA.width !== valB.width)
    throw new Error(`evaluatePair: valA is ${valA.height}×${valA.width} but valB ${valB.height}×${valB.width}; the realism distance needs one size`);
  const gAB = isPrepared(G_AB) ? G_AB : prepareGenerator(config, G_AB);
  const gBA = isPrepared(G_BA) ? G_BA : prepareGenerator(config, G_BA);
  const refA = opts.refA ?? swdReference(valA.images, valA.height, valA.width, opts.swd);
  const refB = opts.refB ?? swdReference(valB.images, valB.height, valB.width, opts.swd);
  const ab = valA.images.map((x) => translateAndCycle(gAB, gBA, x, valA.height, valA.width));
  const ba = valB.images.map((x) => translateAndCycle(gBA, gAB, x, valB.height, valB.width));
  return combineDirections(directionMetrics(ab, refB), directionMetrics(ba, refA));
}

function isPrepared(g: GeneratorParams | PreparedGenerator): g is PreparedGenerator {
  return (g as PreparedGenerator).stem !== undefined && !((g as GeneratorParams).stem instanceof Float32Array);
}
