/**
 * The outer optimizer of a round, as in DiLoCo (Douillard et al. 2023, arXiv 2311.08105).
 *
 * Exactly what a round does with the aggregated delta `Δ̄` (the mean of contributors'
 * `local − base`, after clipping or a robust rule, see aggregate.ts):
 *
 *   outer gradient   g = −Δ̄            (the "pseudo-gradient" θ_base − mean θ_local)
 *   momentum         b ← μ·b + g        (b = 0 before the pair's first round)
 *   Nesterov step    θ ← θ_base − η·(g + μ·b)
 *   plain momentum   θ ← θ_base − η·b   (nesterov: false)
 *
 * which is `torch.optim.SGD(lr=η, momentum=μ, nesterov=True, dampening=0)` stepped once with
 * `param.grad = g` (its first step sets b = g, the same as b = 0 then b ← μ·0 + g). With η = 1
 * and μ = 0 the new version is the plain average of the contributors' models (FedAvg).
 *
 * The step is elementwise, so it runs on any slice of a network: the round applies it shard by
 * shard with the base, momentum and aggregated-delta slices of the same range.
 */
import { DISCRIMINATORS, GENERATORS, type NetworkName } from '../model/config.ts';

export interface OuterSettings {
  /** η: 0.7 in DiLoCo. */
  lr: number;
  /** μ: 0.9 in DiLoCo. */
  momentum: number;
  nesterov: boolean;
}

/** Generators and discriminators are stepped separately and may be tuned apart. */
export interface OuterConfig {
  generators: OuterSettings;
  discriminators: OuterSettings;
}

export const DILOCO_OUTER: OuterSettings = { lr: 0.7, momentum: 0.9, nesterov: true };

export const DEFAULT_OUTER: OuterConfig = {
  generators: { ...DILOCO_OUTER },
  discriminators: { ...DILOCO_OUTER },
};

export function outerSettingsFor(cfg: OuterConfig, net: NetworkName): OuterSettings {
  if ((GENERATORS as readonly string[]).includes(net)) return cfg.generators;
  if ((DISCRIMINATORS as readonly string[]).includes(net)) return cfg.discriminators;
  throw new RangeError(`outer optimizer: unknown network ${JSON.stringify(net)}`);
}

export function validateOuterSettings(s: OuterSettings, where: string): OuterSettings {
  if (!(Number.isFinite(s.lr) && s.lr > 0)) throw new RangeError(`${where}.lr must be a positive number, got ${s.lr}`);
  if (!(Number.isFinite(s.momentum) && s.momentum >= 0 && s.momentum < 1))
    throw new RangeError(`${where}.momentum must be in [0, 1), got ${s.momentum}`);
  if (typeof s.nesterov !== 'boolean') throw new RangeError(`${where}.nesterov must be true or false`);
  return s;
}

/**
 * One outer step on a slice, in place: `params` (the base on entry, the new version on return)
 * and `momentum` (b on entry, updated on return; pass zeros before the first round).
 * `delta` is the aggregated delta of the same slice.
 */
export function outerStep(
  params: Float32Array,
  momentum: Float32Array,
  delta: ArrayLike<number>,
  s: OuterSettings,
): void {
  const n = params.length;
  if (momentum.length !== n || delta.length !== n)
    throw new RangeError(`outer step: params (${n}), momentum (${momentum.length}) and delta (${delta.length}) differ in length`);
  const { lr, momentum: mu, nesterov } = s;
  for (let i = 0; i < n; i++) {
    const g = -delta[i];
    const b = mu * momentum[i] + g;
    momentum[i] = b;
    params[i] -= lr * (nesterov ? g + mu * b : b);
  }
}
