/**
 * The round's state, as the PairRound Durable Object stores it. A discriminated union on `state`,
 * so each phase carries exactly what it has (an idle round has no deadline, only an open one has
 * leases to hand out, only a gating one has a candidate):
 *
 *   idle ──lease──▶ open ──quorum & no lease out, or deadline──▶ aggregating ──▶ gating ──▶ idle
 *                   ▲  │ fewer than quorum.min at the deadline                        │
 *                   └──┘ extended                    passed: current moves; rejected: it stays
 */
import type { NetworkName } from '../../shared/model/config.ts';
import type { RoundConfig } from '../../shared/rounds/protocol.ts';
import type { RoundSchedule } from '../../shared/rounds/schedule.ts';

interface Common {
  /** The round's number: the last round opened (an idle round's is the one that just ended). */
  number: number;
  /** Global schedule position (inner steps taken by the rounds that made the pair's current version). */
  position: number;
}

export interface IdleRound extends Common {
  state: 'idle';
  baseVersion: number | null;
}

export interface OpenRound extends Common {
  state: 'open';
  baseVersion: number;
  deadline: number;
  /** The schedule the round trains on, from its base version's meta (shared/rounds/schedule.ts). */
  schedule: RoundSchedule;
  /** Values per network of the base (from its manifest), fixed for the round. */
  lengths: Record<NetworkName, number>;
}

export interface AggregatingRound extends Omit<OpenRound, 'state'> {
  state: 'aggregating';
  /** Leases whose contributions the aggregation uses, in lease-id order; fixed when it starts. */
  frozen: string[];
}

export interface GatingRound extends Omit<AggregatingRound, 'state'> {
  state: 'gating';
  /** The candidate version the aggregation produced (committed in the registry, not current). */
  candidate: number;
}

export type RoundState = IdleRound | OpenRound | AggregatingRound | GatingRound;

export const FIRST_ROUND: IdleRound = { state: 'idle', number: 0, baseVersion: null, position: 0 };

export interface UploadSlot {
  hash: string;
  sumSquares: number;
}

export interface LeaseRecord {
  id: string;
  round: number;
  baseVersion: number;
  contributor: string;
  name?: string;
  issuedAt: number;
  expiresAt: number;
  /** Settings handed out with the lease (the inner lr at the round's schedule position). */
  train: RoundConfig['train'];
  /** One slot per delta shard: a re-upload replaces its slot, it never adds one. */
  uploads: Partial<Record<NetworkName, Record<number, UploadSlot>>>;
  commit?: {
    samples: number;
    steps: number;
    norms: Record<NetworkName, number>;
    losses?: Record<string, number>;
    shards: Record<NetworkName, string[]>;
    at: number;
  };
}

/** A lease still counts for the round: committed, or live and not yet committed. */
export function holdsSlot(l: LeaseRecord, now: number): boolean {
  return !!l.commit || now <= l.expiresAt;
}

/** Leases handed out and neither committed nor expired: a closing round waits for these. */
export function outstanding(leases: readonly LeaseRecord[], now: number): LeaseRecord[] {
  return leases.filter((l) => !l.commit && now <= l.expiresAt);
}

/** What the quorum counts: distinct contributors with a committed lease, not leases. */
export function distinctContributors(leases: readonly LeaseRecord[]): number {
  return new Set(leases.filter((l) => l.commit).map((l) => l.contributor)).size;
}
