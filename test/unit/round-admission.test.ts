/**
 * The round's admission rules as pure functions (worker/rounds/admission.ts), without a runtime:
 * who may lease, when a lease may still upload or commit, what an upload must look like, and
 * when an open round closes.
 */
import { describe, expect, it } from 'vitest';
import { admitLease, admitUpload, closeDecision, contributionWeights, liveness } from '../../worker/rounds/admission.ts';
import { distinctContributors, outstanding, type LeaseRecord, type OpenRound } from '../../worker/rounds/state.ts';
import { DEFAULT_ROUND_CONFIG, type RoundConfig } from '../../shared/rounds/protocol.ts';
import { FINE_TUNE_SCHEDULE } from '../../shared/rounds/schedule.ts';

const NOW = 1_000_000;
const round: OpenRound = {
  state: 'open',
  number: 3,
  baseVersion: 7,
  position: 0,
  deadline: NOW + 60_000,
  schedule: { position: 0, schedule: FINE_TUNE_SCHEDULE, why: 'test', kind: 'fine-tune' },
  lengths: { G_AB: 1000, G_BA: 1000, D_A: 500, D_B: 500 },
};
const cfg = (patch: Partial<RoundConfig> = {}): RoundConfig => ({ ...DEFAULT_ROUND_CONFIG, ...patch });

let n = 0;
function lease(contributor: string, o: { committed?: boolean; expiresAt?: number; samples?: number } = {}): LeaseRecord {
  n++;
  return {
    id: `lease-${String(n).padStart(3, '0')}`,
    round: 3,
    baseVersion: 7,
    contributor,
    issuedAt: NOW - 1000,
    expiresAt: o.expiresAt ?? NOW + 30_000,
    train: DEFAULT_ROUND_CONFIG.train,
    uploads: {},
    ...(o.committed
      ? { commit: { samples: o.samples ?? 10, steps: 10, norms: { G_AB: 1, G_BA: 1, D_A: 1, D_B: 1 }, shards: { G_AB: [], G_BA: [], D_A: [], D_B: [] }, at: NOW } }
      : {}),
  };
}

describe('taking a lease', () => {
  it('one token holds one lease per round; an expired, uncommitted one frees its place', () => {
    expect(admitLease(round, [], 't1', cfg(), NOW)).toBeNull();
    expect(admitLease(round, [lease('t1')], 't1', cfg(), NOW)).toMatchObject({ reason: 'lease_limit' });
    expect(admitLease(round, [lease('t1', { committed: true })], 't1', cfg(), NOW)).toMatchObject({ reason: 'lease_limit' });
    expect(admitLease(round, [lease('t1', { expiresAt: NOW - 1 })], 't1', cfg(), NOW)).toBeNull();
    expect(admitLease(round, [lease('t1')], 't1', cfg({ leasesPerToken: 2 }), NOW)).toBeNull();
  });
  it('a round hands out at most maxLeases, and none once its quorum of contributors is in', () => {
    const three = [lease('a'), lease('b'), lease('c')];
    expect(admitLease(round, three, 'd', cfg({ maxLeases: 3 }), NOW)).toMatchObject({ reason: 'round_full' });
    const full = [lease('a', { committed: true }), lease('b', { committed: true })];
    expect(admitLease(round, full, 'c', cfg({ quorum: { min: 1, max: 2 } }), NOW)?.message).toMatch(/has its 2 contributors/);
  });
});

describe('a lease that uploads or commits', () => {
  it('must be live, in the open round, and not committed', () => {
    expect(liveness(lease('a'), round, NOW)).toBeNull();
    expect(liveness(lease('a', { committed: true }), round, NOW)).toMatchObject({ reason: 'already_committed' });
    expect(liveness(lease('a', { expiresAt: NOW - 1 }), round, NOW)).toMatchObject({ reason: 'lease_expired' });
    expect(liveness({ ...lease('a'), round: 2 }, round, NOW)).toMatchObject({ reason: 'round_closed' });
    expect(liveness({ ...lease('a'), round: 2, baseVersion: 6 }, round, NOW)).toMatchObject({ reason: 'stale_base' });
    expect(liveness(lease('a'), { state: 'idle', number: 3, baseVersion: 7, position: 0 }, NOW)).toMatchObject({ reason: 'round_closed' });
  });
  it('uploads a shard of a known network, index and exact float16 size', () => {
    expect(admitUpload(round, 'G_AB', 0, 2000, 4 << 20)).toBeNull();
    expect(admitUpload(round, 'G_XY', 0, 2000, 4 << 20)).toMatchObject({ reason: 'bad_shard_index' });
    expect(admitUpload(round, 'G_AB', 1, 2000, 4 << 20)).toMatchObject({ reason: 'bad_shard_index' });
    expect(admitUpload(round, 'G_AB', 0, 1998, 4 << 20)).toMatchObject({ reason: 'size_mismatch' });
    // Small shards: 1000 values at 400 bytes a shard are 5 shards of 200 values.
    expect(admitUpload(round, 'G_AB', 4, 400, 400)).toBeNull();
  });
});

describe('closing a round', () => {
  it('waits for leases still out once the quorum is in, closes when none is, and at the deadline', () => {
    const c = cfg({ quorum: { min: 1, max: 2 } });
    const one = lease('a', { committed: true });
    const two = lease('b', { committed: true });
    const out = lease('c', { expiresAt: NOW + 5000 });
    expect(closeDecision(round, [one], c, NOW)).toEqual({ kind: 'wait', until: round.deadline });
    expect(closeDecision(round, [one, two, out], c, NOW)).toEqual({ kind: 'wait', until: NOW + 5001 });
    expect(closeDecision(round, [one, two, out], c, NOW + 5001)).toEqual({ kind: 'close', frozen: [one.id, two.id].sort() });
    expect(closeDecision(round, [one, two], c, NOW)).toMatchObject({ kind: 'close' });
    expect(closeDecision(round, [one], cfg({ quorum: { min: 2, max: 4 } }), round.deadline)).toEqual({ kind: 'extend', committed: 1 });
    expect(closeDecision(round, [one, out], c, round.deadline)).toEqual({ kind: 'close', frozen: [one.id] });
  });
  it('counts contributors, not leases, and gives each contributor one voice in the mean', () => {
    const leases = [lease('a', { committed: true, samples: 10 }), lease('a', { committed: true, samples: 10 }), lease('b', { committed: true, samples: 10 })];
    expect(distinctContributors(leases)).toBe(2);
    expect(contributionWeights(leases)).toEqual([5, 5, 10]);
    expect(outstanding([...leases, lease('c'), lease('d', { expiresAt: NOW - 1 })], NOW).map((l) => l.contributor)).toEqual(['c']);
  });
});
