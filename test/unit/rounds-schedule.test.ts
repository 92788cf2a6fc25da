/**
 * Which schedule a round continues (shared/rounds/schedule.ts): decided from the base version's
 * manifest meta, as `stripes train`, `stripes push`, import-torch and rounds write it.
 */
import type { CheckpointSource } from '../../cli/checkpoint-dir.ts';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ROUND_CONFIG, innerLrAt } from '../../shared/rounds/protocol.ts';
import { FINE_TUNE_SCHEDULE, roundScheduleFor, scheduleAfterRound, trainScheduleMeta } from '../../shared/rounds/schedule.ts';
import { learningRate } from '../../shared/train/schedule.ts';

const cfg = DEFAULT_ROUND_CONFIG;

describe('roundScheduleFor', () => {
  it('continues an unfinished stripes train run exactly where it stopped', () => {
    const r = roundScheduleFor({ trainedBy: 'stripes train', ...trainScheduleMeta(900, 1500, 2e-4) }, cfg);
    expect(r.kind).toBe('continue');
    expect(r.position).toBe(900);
    expect(r.schedule).toEqual({ lr: 2e-4, constantSteps: 750, decaySteps: 750 });
    // The lr a lease gets is the lr stripes train would have used for its next iteration.
    expect(innerLrAt(r.position, r.schedule)).toBe(learningRate(900, 1500, 2e-4));
    expect(r.why).toMatch(/continues .* step 900 of 1500/);
  });

  it('reads the iterations/totalIterations of older stripes train checkpoints (the demo pair)', () => {
    const half = roundScheduleFor({ trainedBy: 'stripes train', iterations: 700, totalIterations: 1500 }, cfg);
    expect(half).toMatchObject({ kind: 'continue', position: 700, schedule: { lr: 2e-4, constantSteps: 750, decaySteps: 750 } });
    // The demo: 1500 of 1500, lr 0 from here on: fine-tune instead of rounds that cannot move.
    const done = roundScheduleFor({ trainedBy: 'stripes train', iterations: 1500, totalIterations: 1500 }, cfg);
    expect(done).toMatchObject({ kind: 'fine-tune', position: 0, schedule: FINE_TUNE_SCHEDULE });
    expect(innerLrAt(done.position, done.schedule)).toBe(FINE_TUNE_SCHEDULE.lr);
  });

  it('fine-tunes converged imports and versions of unknown provenance', () => {
    expect(roundScheduleFor({ source: 'stripes import-torch', converged: true, ...trainScheduleMeta(10, 100, 2e-4) }, cfg).kind).toBe('fine-tune');
    for (const meta of [undefined, null, 'x', {}, { iterations: 5 }, { schedule: { lr: -1, constantSteps: 1, decaySteps: 1, position: 0 } }, { iterations: 9, totalIterations: 5 }])
      expect(roundScheduleFor(meta, cfg)).toMatchObject({ kind: 'fine-tune', position: 0 });
  });

  it('starts an untrained placeholder on the round config schedule', () => {
    expect(roundScheduleFor({ placeholder: true }, cfg)).toMatchObject({ kind: 'fresh', position: 0, schedule: cfg.schedule });
  });

  it('a round version records its advanced position, which the next round continues', () => {
    const first = roundScheduleFor(trainScheduleMeta(100, 1000, 2e-4), cfg);
    const meta = { source: 'round', round: 1, schedule: scheduleAfterRound(first, 20) };
    expect(roundScheduleFor(meta, cfg)).toMatchObject({ kind: 'continue', position: 120 });
    // Rounds run the schedule out, then fine-tune.
    const late = roundScheduleFor({ source: 'round', schedule: scheduleAfterRound(roundScheduleFor(trainScheduleMeta(990, 1000, 2e-4), cfg), 20) }, cfg);
    expect(late.kind).toBe('fine-tune');
  });
});

describe('stripes push', () => {
  it('adds meta.schedule to a checkpoint from an older stripes train, and leaves others alone', async () => {
    const { withScheduleMeta } = await import('../../cli/commands/push.ts');
    const source = (meta?: Record<string, unknown>) => ({ where: 'x', manifest: { meta } }) as unknown as CheckpointSource;
    const old = withScheduleMeta(source({ trainedBy: 'stripes train', iterations: 1500, totalIterations: 1500 }));
    expect(old.manifest.meta).toMatchObject({ iterations: 1500, schedule: { lr: 2e-4, constantSteps: 750, decaySteps: 750, position: 1500 } });
    const recorded = source({ ...trainScheduleMeta(10, 20, 1e-4) });
    expect(withScheduleMeta(recorded)).toBe(recorded);
    const imported = source({ converged: true, iterations: 1, totalIterations: 2 });
    expect(withScheduleMeta(imported)).toBe(imported);
    expect(withScheduleMeta(source(undefined)).manifest.meta).toBeUndefined();
  });
});
