/**
 * The quality gate, run inside the round's Durable Object (docs/gate.md): a round's candidate
 * becomes current only if, on the pair's validation images, it is not worse than its base.
 *
 * Why here and not on clients: the worker trusts only itself. A validator that lies cannot exist
 * when nobody else validates; the cost is CPU, which the gate bounds by doing the work in steps,
 * one per alarm, each under GATE_MACS_PER_STEP multiply-accumulates (every alarm invocation has
 * its own CPU budget). For each of the two versions (base, candidate), each direction and each
 * validation image:
 *
 *   fake   = G(x)            stored as 8-bit RGB (what a person would save), part `fake:<dir>:<i>`
 *   cycled = F(fake)         its mean |cycled − x| and finiteness, part `cyc:<dir>:<i>`
 *
 * then the version's metrics (cycle L1 per direction, patch-statistics distance of the fakes to
 * the other domain's real images, output spread, finiteness) are computed once and kept, so a
 * base that was itself a candidate is never measured twice on the same validation set. Every part
 * is keyed by the validation set's hash: a new set invalidates them. Only one generator is held
 * at a time, so a `full` pair's step stays within the isolate's memory.
 */
import type { GeneratorName, ModelConfig } from '../../shared/model/config.ts';
import { macsPerImage, prepareGenerator, runGenerator } from '../../shared/gate/forward.ts';
import { combineDirections, DEFAULT_GATE_TOLERANCE, directionMetrics, judge, type GateMetrics, type GateTolerance, type TranslateResult, type Verdict } from '../../shared/gate/judge.ts';
import { swdReference } from '../../shared/gate/metrics.ts';
import { decodeValidationSet, type ValidationSet } from '../../shared/gate/validation-set.ts';
import { decodeGroup } from '../../shared/weights/checkpoint.ts';
import type { CheckpointManifest } from '../../shared/weights/format.ts';
import { sha256Hex } from '../../shared/weights/sha256.ts';
import type { Storage } from '../storage.ts';
import type { RoundStore } from './store.ts';

/** Work per alarm: about 2–4 s of this forward pass in V8 (docs/gate.md has the measurements). */
export const GATE_MACS_PER_STEP = 4e9;

type Dir = 'AtoB' | 'BtoA';
const DIRS: readonly Dir[] = ['AtoB', 'BtoA'];
const FORWARD: Record<Dir, GeneratorName> = { AtoB: 'G_AB', BtoA: 'G_BA' };
const BACK: Record<Dir, GeneratorName> = { AtoB: 'G_BA', BtoA: 'G_AB' };

export interface GateVersion {
  number: number;
  manifest: CheckpointManifest;
}

export interface Validation {
  A: ValidationSet;
  B: ValidationSet;
  /** Hash of both sets' bytes: the key of every stored part. */
  hash: string;
}

/** Reads the pair's validation sets; null when a domain has none. Throws (naming it) when one is corrupt. */
export async function loadValidation(storage: Storage, slug: string): Promise<Validation | null> {
  const [a, b] = await Promise.all([storage.getValidation(slug, 'A'), storage.getValidation(slug, 'B')]);
  if (!a || !b) return null;
  const hash = (await sha256Hex(new Uint8Array([...(await sha256Hex(a)), ...(await sha256Hex(b))].map((c) => c.charCodeAt(0))))).slice(0, 16);
  return { A: decodeValidationSet(a), B: decodeValidationSet(b), hash };
}

const toByte = (v: number) => (Number.isFinite(v) ? Math.max(0, Math.min(255, Math.round((v + 1) * 127.5))) : 0);

function quantise(x: Float32Array): { bytes: Uint8Array; finite: boolean } {
  const bytes = new Uint8Array(x.length + 1);
  let finite = true;
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) finite = false;
    bytes[i + 1] = toByte(x[i]);
  }
  bytes[0] = finite ? 1 : 0;
  return { bytes, finite };
}

function dequantise(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length - 1);
  for (let i = 1; i < bytes.length; i++) out[i - 1] = bytes[i] / 127.5 - 1;
  return out;
}

/** A float64 and a finiteness flag, as a part's bytes. */
function packCycle(l1: number, finite: boolean): Uint8Array {
  const b = new Uint8Array(9);
  new DataView(b.buffer).setFloat64(0, l1, true);
  b[8] = finite ? 1 : 0;
  return b;
}
function unpackCycle(b: Uint8Array): { l1: number; finite: boolean } {
  return { l1: new DataView(b.buffer, b.byteOffset, 9).getFloat64(0, true), finite: b[8] === 1 };
}

const setFor = (v: Validation, d: Dir) => (d === 'AtoB' ? v.A : v.B);

export class GateRunner {
  constructor(
    private readonly store: RoundStore,
    private readonly fetchShard: (hash: string) => Promise<Uint8Array>,
    private readonly budgetMacs = GATE_MACS_PER_STEP,
  ) {}

  private metricsKey(val: Validation) {
    return `metrics:${val.hash}`;
  }

  /** The version's metrics when they are complete on this validation set. */
  metricsOf(version: number, val: Validation): GateMetrics | null {
    const part = this.store.gateParts(version, this.metricsKey(val))[0];
    return part ? (JSON.parse(new TextDecoder().decode(part.data)) as GateMetrics) : null;
  }

  private async generator(manifest: CheckpointManifest, net: GeneratorName, config: ModelConfig) {
    return prepareGenerator(config.generator, await decodeGroup(manifest, net, this.fetchShard));
  }

  /**
   * Does one bounded unit of work towards `v`'s metrics. Returns the metrics once they are all
   * there (possibly without doing any work), or null when another step is needed.
   */
  async step(v: GateVersion, val: Validation): Promise<GateMetrics | null> {
    const done = this.metricsOf(v.number, val);
    if (done) return done;
    const config = v.manifest.config;
    const side = { h: val.A.height, w: val.A.width };
    const perImage = Math.max(1, macsPerImage(config.generator, side.h, side.w));
    const batch = Math.max(1, Math.floor(this.budgetMacs / perImage));
    const prefix = `${val.hash}:`;
    const have = new Set(this.store.gateParts(v.number, prefix).map((p) => p.part));

    for (const dir of DIRS) {
      const set = setFor(val, dir);
      // Translate first (fakes), then cycle them back, one generator per step.
      const missingFakes = [...Array(set.count).keys()].filter((i) => !have.has(`${prefix}fake:${dir}:${i}`));
      if (missingFakes.length) {
        const g = await this.generator(v.manifest, FORWARD[dir], config);
        for (const i of missingFakes.slice(0, batch)) {
          const { bytes } = quantise(runGenerator(g, set.images[i], set.height, set.width));
          this.store.putGatePart(v.number, `${prefix}fake:${dir}:${i}`, bytes);
        }
        return null;
      }
      const missingCycles = [...Array(set.count).keys()].filter((i) => !have.has(`${prefix}cyc:${dir}:${i}`));
      if (missingCycles.length) {
        const f = await this.generator(v.manifest, BACK[dir], config);
        for (const i of missingCycles.slice(0, batch)) {
          const fakeBytes = this.store.gateParts(v.number, `${prefix}fake:${dir}:${i}`)[0].data;
          const cycled = runGenerator(f, dequantise(fakeBytes), set.height, set.width);
          const x = set.images[i];
          let sum = 0;
          let finite = fakeBytes[0] === 1;
          for (let k = 0; k < x.length; k++) {
            if (!Number.isFinite(cycled[k])) finite = false;
            else sum += Math.abs(cycled[k] - x[k]);
          }
          this.store.putGatePart(v.number, `${prefix}cyc:${dir}:${i}`, packCycle(sum / x.length, finite));
        }
        return null;
      }
    }

    // Every image is in: the version's metrics, computed once.
    const results = (dir: Dir): TranslateResult[] => {
      const fakes = new Map(this.store.gateParts(v.number, `${prefix}fake:${dir}:`).map((p) => [p.part.slice(p.part.lastIndexOf(':') + 1), p.data]));
      return this.store.gateParts(v.number, `${prefix}cyc:${dir}:`).map((p) => {
        const c = unpackCycle(p.data);
        const fake = fakes.get(p.part.slice(p.part.lastIndexOf(':') + 1))!;
        return { fake: dequantise(fake), cycleL1: c.finite ? c.l1 : NaN, finite: c.finite };
      });
    };
    const refA = swdReference(val.A.images, val.A.height, val.A.width);
    const refB = swdReference(val.B.images, val.B.height, val.B.width);
    const metrics = combineDirections(directionMetrics(results('AtoB'), refB), directionMetrics(results('BtoA'), refA));
    this.store.putGatePart(v.number, this.metricsKey(val), new TextEncoder().encode(JSON.stringify(metrics)));
    return metrics;
  }

  /** Steps the base, then the candidate; the verdict once both are measured. */
  async run(
    base: GateVersion,
    candidate: GateVersion,
    val: Validation,
    tolerance: Readonly<GateTolerance> = DEFAULT_GATE_TOLERANCE,
  ): Promise<{ verdict: Verdict; metrics: GateMetrics; baseMetrics: GateMetrics } | null> {
    const baseMetrics = await this.step(base, val);
    if (!baseMetrics) return null;
    const metrics = await this.step(candidate, val);
    if (!metrics) return null;
    return { verdict: judge(metrics, baseMetrics, tolerance), metrics, baseMetrics };
  }
}

/**
 * A pair at its random initialisation (its schedule is 'fresh') has no quality to lose yet: its
 * outputs are near-constant noise, and its first steps move every number in any direction. Its
 * candidates are still measured and recorded, but judged for finiteness only. From the first
 * trained version on (its schedule then continues), the full tolerance holds.
 */
export const FRESH_PAIR_TOLERANCE: Readonly<GateTolerance> = Object.freeze({
  ...DEFAULT_GATE_TOLERANCE,
  cycleRelative: Infinity,
  realismRelative: Infinity,
  minSpread: 0,
  minVariation: 0,
  collapseRatio: 0,
});

export function toleranceFor(kind: 'continue' | 'fine-tune' | 'fresh'): Readonly<GateTolerance> {
  return kind === 'fresh' ? FRESH_PAIR_TOLERANCE : DEFAULT_GATE_TOLERANCE;
}

