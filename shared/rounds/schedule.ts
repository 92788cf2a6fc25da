/**
 * Where a round sits in its pair's learning-rate schedule, decided from the base version's
 * manifest meta (docs/rounds.md). The round Durable Object calls `roundScheduleFor` when it opens
 * a round on a base version and leases `innerLrAt(position, schedule)` to contributors.
 *
 * A pair's versions record where their training left off, in `meta.schedule` (written by
 * `stripes train`, kept by `stripes push`, advanced by each round):
 *
 *   meta.schedule = { lr, constantSteps, decaySteps, position }
 *     the schedule in steps (lr constant for constantSteps, then linear decay to 0 over
 *     decaySteps, the reference's lambda_rule) and `position`, the steps already trained.
 *   meta.converged = true
 *     trained to the end of some schedule we do not know (import-torch: the official weights).
 *
 * Older `stripes train` checkpoints have only `iterations` (done) and `totalIterations`: their
 * schedule was lr 2e-4, ⌈T/2⌉ constant then ⌊T/2⌋ decaying (shared/train/schedule.ts).
 *
 * Decisions:
 *   - an unfinished schedule (its lr at the position is > 0): continue it at that position;
 *   - a finished one (lr 0), a converged import, or unknown provenance: the fine-tuning schedule
 *     (constant FINE_TUNE_LR from position 0), chosen by measurement (scripts/rounds-drift.ts);
 *   - untrained networks (`meta.placeholder`, or `meta.source: 'init'` from the web app's Create):
 *     the round config's schedule from position 0.
 */
import { scheduleSplit } from '../train/schedule.ts';
import { innerLrAt, type RoundConfig } from './protocol.ts';

export type Schedule = RoundConfig['schedule'];

export interface RoundSchedule {
  /** Steps trained before this round's first inner step, on `schedule`. */
  position: number;
  schedule: Schedule;
  /** One line for the round's status and history. */
  why: string;
  /** 'continue' (the pair's own schedule), 'fine-tune', or 'fresh' (the config's, from 0). */
  kind: 'continue' | 'fine-tune' | 'fresh';
}

/**
 * The inner lr rounds fine-tune a finished pair with. Measured on the demo pair
 * (scripts/rounds-drift.ts, docs/rounds.md): one 20-step contribution from four maps per domain,
 * applied with outer lr 1 and no momentum, moves held-out outputs by 2.9 / 1.3 levels (G_AB /
 * G_BA) at 5e-6 (10-step warm-up) against 25–30 at today's 2e-4, and held-out cycle L1 by
 * +0.3 / +0.4 levels against +1.5 / +4.9; 1e-5 doubles both, 2e-5 triples them.
 */
export const FINE_TUNE_LR = 5e-6;
/** Constant at FINE_TUNE_LR for a long while; the owner may patch the round config to end it. */
export const FINE_TUNE_SCHEDULE: Schedule = { lr: FINE_TUNE_LR, constantSteps: 1_000_000, decaySteps: 0 };

/** What `stripes train` writes into a version's meta for a run of `total` iterations after `done`. */
export function trainScheduleMeta(done: number, total: number, lr: number): { schedule: Schedule & { position: number } } {
  const { nConst, nDecay } = scheduleSplit(total);
  return { schedule: { lr, constantSteps: nConst, decaySteps: nDecay, position: done } };
}

/** The meta.schedule a round's new version records: the base's position advanced by the inner steps (K). */
export function scheduleAfterRound(s: RoundSchedule, innerSteps: number): Schedule & { position: number } {
  return { ...s.schedule, position: s.position + innerSteps };
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isPos = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

/** The recorded schedule and position, or null when the meta does not say. */
export function recordedSchedule(meta: unknown): { schedule: Schedule; position: number; from: string } | null {
  if (typeof meta !== 'object' || meta === null) return null;
  const m = meta as Record<string, unknown>;
  const s = m.schedule as Record<string, unknown> | undefined;
  if (s && typeof s === 'object' && isPos(s.lr) && isInt(s.constantSteps) && isInt(s.decaySteps) && isInt(s.position))
    return { schedule: { lr: s.lr, constantSteps: s.constantSteps, decaySteps: s.decaySteps }, position: s.position, from: 'meta.schedule' };
  if (isInt(m.iterations) && isInt(m.totalIterations) && m.totalIterations >= 1 && m.iterations <= m.totalIterations) {
    const { nConst, nDecay } = scheduleSplit(m.totalIterations);
    // `stripes train` has always trained at lr 2e-4 (CYCLEGAN_ADAM).
    return { schedule: { lr: 2e-4, constantSteps: nConst, decaySteps: nDecay }, position: m.iterations, from: 'meta.iterations/totalIterations' };
  }
  return null;
}

export function roundScheduleFor(baseManifestMeta: unknown, cfg: RoundConfig, fineTune: Schedule = FINE_TUNE_SCHEDULE): RoundSchedule {
  const m = (typeof baseManifestMeta === 'object' && baseManifestMeta !== null ? baseManifestMeta : {}) as Record<string, unknown>;
  const fine = (why: string): RoundSchedule => ({ position: 0, schedule: { ...fineTune }, why: `${why}: fine-tuning at lr ${fineTune.lr.toExponential(0)}`, kind: 'fine-tune' });
  if (m.converged === true) return fine('the base is converged (imported or finished weights)');
  const rec = recordedSchedule(m);
  if (rec) {
    const lr = innerLrAt(rec.position, rec.schedule);
    const total = rec.schedule.constantSteps + rec.schedule.decaySteps;
    if (lr > 0)
      return {
        position: rec.position,
        schedule: rec.schedule,
        why: `continues the pair's schedule (${rec.from}) at step ${rec.position} of ${total}: lr ${lr.toExponential(2)}`,
        kind: 'continue',
      };
    return fine(`the pair's schedule (${rec.from}) is finished at step ${rec.position} of ${total}`);
  }
  // An untrained start: the seed's placeholder, or a pair the web app created at its reference initialisation.
  if (m.placeholder === true || m.source === 'init')
    return { position: 0, schedule: { ...cfg.schedule }, why: 'untrained networks at their initialisation: the round schedule from step 0', kind: 'fresh' };
  return fine('the base does not say how it was trained');
}
