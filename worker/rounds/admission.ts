/**
 * Who may do what in a round, as pure functions of the round's state, its leases, the config and
 * the clock: taking a lease, uploading a delta shard, committing, and when a round is due to
 * close. PairRound calls them with what it read from storage; test/unit/round-admission.test.ts
 * runs them in Node. They name the refusal; the routes decide its HTTP status.
 */
import { NETWORKS, type NetworkName } from '../../shared/model/config.ts';
import { deltaShardSizes } from '../../shared/rounds/delta.ts';
import type { CommitRequest, RejectReason, RoundConfig } from '../../shared/rounds/protocol.ts';
import { checkCommit } from '../../shared/rounds/validate.ts';
import { distinctContributors, holdsSlot, outstanding, type LeaseRecord, type OpenRound, type RoundState } from './state.ts';

export type RefusalReason = RejectReason | 'no_version' | 'bad_config' | 'busy';
export interface Refusal {
  ok: false;
  reason: RefusalReason;
  message: string;
}
export type RoundResult<T> = { ok: true; value: T } | Refusal;

export const refuse = (reason: RefusalReason, message: string): Refusal => ({ ok: false, reason, message });

/** May `contributor` take a lease in this open round? */
export function admitLease(r: OpenRound, leases: readonly LeaseRecord[], contributor: string, cfg: RoundConfig, now: number): Refusal | null {
  if (distinctContributors(leases) >= cfg.quorum.max)
    return refuse('round_full', `round ${r.number} has its ${cfg.quorum.max} contributors and closes as soon as the leases still out finish; lease again in a moment`);
  const live = leases.filter((l) => holdsSlot(l, now));
  if (live.length >= cfg.maxLeases)
    return refuse('round_full', `round ${r.number} has handed out its ${cfg.maxLeases} leases; lease again when it closes (by ${new Date(r.deadline).toISOString()})`);
  const mine = live.filter((l) => l.contributor === contributor);
  if (mine.length >= cfg.leasesPerToken)
    return refuse(
      'lease_limit',
      `this token already holds ${mine.length === 1 ? 'a lease' : `${mine.length} leases`} in round ${r.number} (${cfg.leasesPerToken} per contributor): finish it (lease ${mine[0].id}) or let it expire`,
    );
  return null;
}

/** Whether a lease may still upload or commit: the round is open, the lease is its and live, not committed. */
export function liveness(lease: LeaseRecord, r: RoundState, now: number): Refusal | null {
  if (lease.commit) return refuse('already_committed', `lease ${lease.id} has already committed`);
  if (lease.round !== r.number || r.state !== 'open')
    return r.baseVersion !== lease.baseVersion
      ? refuse('stale_base', `lease ${lease.id} trained from version ${lease.baseVersion}, the round now builds on ${r.baseVersion}`)
      : refuse('round_closed', `round ${lease.round} is closed`);
  if (now > lease.expiresAt) return refuse('lease_expired', `lease ${lease.id} expired at ${new Date(lease.expiresAt).toISOString()}`);
  return null;
}

/** The shape checks of one delta shard upload, before its bytes are hashed and decoded. */
export function admitUpload(r: OpenRound, net: string, index: number, byteLength: number, maxShardBytes: number): Refusal | null {
  if (!(NETWORKS as readonly string[]).includes(net)) return refuse('bad_shard_index', `unknown network "${net}" (expected ${NETWORKS.join(', ')})`);
  const sizes = deltaShardSizes(r.lengths[net as NetworkName], maxShardBytes);
  if (!Number.isInteger(index) || index < 0 || index >= sizes.length)
    return refuse('bad_shard_index', `${net} has shards 0..${sizes.length - 1}, got ${index}`);
  if (byteLength !== sizes[index])
    return refuse('size_mismatch', `${net} shard ${index} must be ${sizes[index]} bytes (float16), got ${byteLength}`);
  return null;
}

/**
 * A commit against what the lease uploaded: every shard present with the hash the commit names,
 * then the counts and norms (shared/rounds/validate.ts). Returns the measured norms.
 */
export function admitCommit(
  lease: LeaseRecord,
  r: OpenRound,
  req: CommitRequest,
  maxShardBytes: number,
): { ok: true; norms: Record<NetworkName, number> } | Refusal {
  const measured = {} as Record<NetworkName, number>;
  for (const net of NETWORKS) {
    const want = deltaShardSizes(r.lengths[net], maxShardBytes).length;
    const hashes = req.shards[net];
    if (hashes.length !== want)
      return refuse('wrong_shape', `${net}: the delta has ${want} shards for ${r.lengths[net]} values, the commit lists ${hashes.length}`);
    let s = 0;
    for (let i = 0; i < want; i++) {
      const up = lease.uploads[net]?.[i];
      if (!up) return refuse('missing_shards', `${net} shard ${i} was never uploaded`);
      if (up.hash !== hashes[i]) return refuse('hash_mismatch', `${net} shard ${i} was uploaded as ${up.hash}, the commit says ${hashes[i]}`);
      s += up.sumSquares;
    }
    measured[net] = Math.sqrt(s);
  }
  const bad = checkCommit(req, lease.train, r.lengths, measured);
  return bad ? refuse(bad.reason, bad.message) : { ok: true, norms: measured };
}

export type CloseDecision =
  | { kind: 'wait'; until: number }
  | { kind: 'extend'; committed: number }
  | { kind: 'close'; frozen: string[] };

/**
 * When an open round closes. At its deadline: with at least quorum.min distinct contributors it
 * closes, below that it is extended. Before it: once quorum.max distinct contributors have
 * committed it closes, but only when no lease is still out, so a contributor who started with
 * the others never finds the round closed under its finished work; it waits at most until the
 * last outstanding lease expires (leases never outlive the deadline).
 */
export function closeDecision(r: OpenRound, leases: readonly LeaseRecord[], cfg: RoundConfig, now: number): CloseDecision {
  const committed = leases.filter((l) => l.commit);
  const contributors = distinctContributors(leases);
  const frozen = committed.map((l) => l.id).sort();
  if (now >= r.deadline) return contributors >= cfg.quorum.min ? { kind: 'close', frozen } : { kind: 'extend', committed: contributors };
  if (contributors < cfg.quorum.max) return { kind: 'wait', until: r.deadline };
  const out = outstanding(leases, now);
  if (out.length === 0) return { kind: 'close', frozen };
  return { kind: 'wait', until: Math.min(r.deadline, ...out.map((l) => l.expiresAt + 1)) };
}

/**
 * The weight each contribution gets in the mean: its samples, shared among one contributor's
 * contributions, so a token with several leases (leasesPerToken > 1) still has one voice.
 */
export function contributionWeights(leases: readonly LeaseRecord[]): number[] {
  const count = new Map<string, number>();
  for (const l of leases) count.set(l.contributor, (count.get(l.contributor) ?? 0) + 1);
  return leases.map((l) => l.commit!.samples / count.get(l.contributor)!);
}
