/**
 * PairRound: one Durable Object per pair (named by its slug) that owns the pair's community
 * training round (docs/architecture.md, "Contribution"). Only this class holds round state, in its
 * own storage (store.ts), so a restarted worker finds the round where it was.
 *
 *   idle ──lease──▶ open ──▶ aggregating ──▶ gating ──▶ idle (next round)
 *
 * - Who may lease, upload and commit, and when an open round closes, are pure functions in
 *   admission.ts; the round's phases are the union in state.ts.
 * - Closing runs in `alarm()`, one bounded step per invocation (the Workers runtime retries a
 *   failed alarm, and every step is retry-safe): the aggregation builds one network per step
 *   (build-version.ts, content-addressed and deterministic); the candidate is stored as a
 *   committed version that is NOT current (registry.addRoundVersion, idempotent per round); the
 *   quality gate (gate-runner.ts) measures base and candidate on the pair's validation images a
 *   few images per step; only a passing candidate moves `current`, by compare-and-set from its base.
 * - A rejected candidate stays in the history with its metrics and reasons, and its
 *   contributions are marked "not merged"; `current` does not move.
 *
 * Methods return `RoundResult`s rather than throwing, because errors lose their class across
 * RPC; the routes turn a refusal into an HTTP status.
 */
import { DurableObject } from 'cloudflare:workers';
import { NETWORKS, type NetworkName } from '../../shared/model/config.ts';
import { decodeDeltaShard, networkLength } from '../../shared/rounds/delta.ts';
import {
  applyConfigPatch,
  innerLrAt,
  type CommitReceipt,
  type CommitRequest,
  type ContributionStatus,
  type HistoryEntry,
  type Lease,
  type RoundConfigPatch,
  type RoundStatus,
  type UploadReceipt,
} from '../../shared/rounds/protocol.ts';
import { MAX_SHARD_BYTES } from '../../shared/weights/format.ts';
import { sha256Hex } from '../../shared/weights/sha256.ts';
import { Registry } from '../registry.ts';
import { Storage } from '../storage.ts';
import { admitCommit, admitLease, admitUpload, closeDecision, contributionWeights, liveness, refuse, type Refusal, type RoundResult } from './admission.ts';
import { assembleVersion, buildNetworks, NonFiniteAggregate, type BuildInput, type MomentumIndex, type NetworkParts, type RoundContribution } from './build-version.ts';
import { GateRunner, loadValidation, toleranceFor } from './gate-runner.ts';
import { roundBlobs, slotName, storageBlobs } from './r2-blobs.ts';
import { distinctContributors, outstanding, type AggregatingRound, type GatingRound, type LeaseRecord, type OpenRound, type RoundState } from './state.ts';
import { RoundStore } from './store.ts';
import { roundScheduleFor, scheduleAfterRound } from '../../shared/rounds/schedule.ts';

export type { Refusal, RoundResult } from './admission.ts';

/** The part of the worker's Env this object uses. */
export interface RoundEnv {
  DB: D1Database;
  WEIGHTS: R2Bucket;
}

/** Validation images a pair needs per domain before its rounds open (the gate's minimum). */
export const MIN_VALIDATION_IMAGES = 8;
/** History entries and rejections the round status carries (page the rest). */
const STATUS_HISTORY = 50;
const STATUS_REJECTIONS = 20;
/** Should the runtime give up retrying a failing alarm, this one resumes the work later. */
const RETRY_MS = 60_000;

interface OuterState {
  /** The version this momentum belongs to (the next round's base). */
  version: number;
  momentum: MomentumIndex;
}

/**
 * Crash injection for the restart tests: the tests write `faults` into this object's storage
 * (production never does), and the aggregation throws after that many shard writes.
 */
interface Faults {
  failAfterWrites?: number | null;
  injected?: number;
}

export class PairRound extends DurableObject<RoundEnv> {
  private readonly store = new RoundStore(this.ctx.storage);
  private readonly maxShardBytes = MAX_SHARD_BYTES;

  private now(): number {
    return Date.now();
  }

  private async slug(slug?: string): Promise<string> {
    const stored = await this.store.slug();
    if (stored) return stored;
    if (!slug) throw new Error('PairRound: the pair slug is not known yet');
    await this.store.setSlug(slug);
    return slug;
  }

  private rejected(lease: LeaseRecord | undefined, round: number, r: Refusal): Refusal {
    this.store.reject({ round, at: this.now(), lease: lease?.id, contributor: lease?.contributor, reason: `${r.reason}: ${r.message}` });
    return r;
  }

  private setContribution(l: LeaseRecord, state: ContributionStatus['state'], extra: Partial<ContributionStatus> = {}): void {
    this.store.setContribution({ lease: l.id, round: l.round, baseVersion: l.baseVersion, state, ...extra }, l.contributor, this.now());
  }

  /** Opens a round on the pair's current version (or notices the open one's base went stale). */
  private async openRound(slug: string, r: RoundState, cfg: Awaited<ReturnType<RoundStore['config']>>): Promise<RoundResult<OpenRound>> {
    const registry = new Registry(this.env.DB);
    const pair = await registry.getPair(slug);
    if (!pair) return refuse('no_version', `pair "${slug}" does not exist`);
    if (pair.currentVersion === null) return refuse('no_version', `pair "${slug}" has no committed version to train from`);
    if (r.state === 'open' && r.baseVersion === pair.currentVersion) return { ok: true, value: r };
    const counts = await new Storage(this.env.WEIGHTS).validationCounts(slug);
    if (counts.A < MIN_VALIDATION_IMAGES || counts.B < MIN_VALIDATION_IMAGES)
      return refuse(
        'no_validation_set',
        `pair "${slug}" has ${counts.A} validation images of domain A and ${counts.B} of domain B; its owner must upload at least ${MIN_VALIDATION_IMAGES} of each (PUT /api/pairs/${slug}/validation/A and /B, or \`stripes validation\`) before rounds can open, because every round's result is checked on them`,
      );
    if (r.state === 'open') {
      // The owner published or rolled back mid-round: these deltas are against a stale base.
      await this.abandon(r, `stale_base: version ${pair.currentVersion} replaced ${r.baseVersion}`);
    }
    const version = await registry.getVersion(slug, pair.currentVersion);
    const manifest = version!.manifest;
    const missing = NETWORKS.filter((n) => !manifest.groups[n]);
    if (missing.length) return refuse('no_version', `version ${pair.currentVersion} lacks ${missing.join(', ')}, so it cannot be trained`);
    const lengths = Object.fromEntries(NETWORKS.map((n) => [n, networkLength(manifest.config, n)])) as Record<NetworkName, number>;
    // Where the pair's training left off decides the round's lr: its own schedule continued, or
    // fine-tuning for a finished or converged pair (docs/rounds.md).
    const schedule = roundScheduleFor(manifest.meta, cfg);
    const next: OpenRound = {
      state: 'open',
      number: r.number + 1,
      baseVersion: pair.currentVersion,
      position: schedule.position,
      schedule,
      deadline: this.now() + cfg.roundMs,
      lengths,
    };
    await this.store.setRound(next);
    await this.ctx.storage.setAlarm(next.deadline);
    return { ok: true, value: next };
  }

  async lease(slug: string, contributor: string, name?: string): Promise<RoundResult<Lease>> {
    slug = await this.slug(slug);
    const cfg = await this.store.config();
    const r = await this.store.round();
    if (r.state === 'aggregating' || r.state === 'gating')
      return refuse('busy', `round ${r.number} is ${r.state === 'aggregating' ? 'building its candidate' : 'checking its candidate against the validation images'}; lease again in a moment`);
    const opened = await this.openRound(slug, r, cfg);
    if (!opened.ok) return opened;
    const open = opened.value;
    const now = this.now();
    const no = admitLease(open, await this.store.leases(open.number), contributor, cfg, now);
    if (no) return no;
    const train = { ...cfg.train, lr: innerLrAt(open.position, open.schedule.schedule) };
    const rec: LeaseRecord = {
      id: crypto.randomUUID(),
      round: open.number,
      baseVersion: open.baseVersion,
      contributor,
      name,
      issuedAt: now,
      expiresAt: Math.min(open.deadline, now + cfg.leaseMs),
      train,
      uploads: {},
    };
    await this.store.putLease(rec);
    this.setContribution(rec, 'leased');
    return {
      ok: true,
      value: {
        pair: slug,
        round: open.number,
        lease: rec.id,
        baseVersion: rec.baseVersion,
        position: open.position,
        train,
        networks: [...NETWORKS],
        maxShardBytes: this.maxShardBytes,
        issuedAt: now,
        expiresAt: rec.expiresAt,
        deadline: open.deadline,
      },
    };
  }

  async upload(leaseId: string, contributor: string, net: NetworkName, index: number, hash: string, bytes: Uint8Array): Promise<RoundResult<UploadReceipt>> {
    const lease = await this.store.lease(leaseId);
    if (!lease || lease.contributor !== contributor) return refuse('unknown_lease', `no lease "${leaseId}" for this token`);
    const r = await this.store.round();
    const dead = liveness(lease, r, this.now());
    if (dead) return this.rejected(lease, lease.round, dead);
    const open = r as OpenRound;
    const bad = admitUpload(open, net, index, bytes.byteLength, this.maxShardBytes);
    if (bad) return this.rejected(lease, r.number, bad);
    const actual = await sha256Hex(bytes);
    if (actual !== hash) return this.rejected(lease, r.number, refuse('hash_mismatch', `${net} shard ${index}: its SHA-256 is ${actual}, not ${hash}`));
    const decoded = decodeDeltaShard(bytes);
    if (!decoded.finite) return this.rejected(lease, r.number, refuse('not_finite', `${net} shard ${index} holds NaN or infinite values`));
    // The slot is replaced, never added to: a lease holds at most one delta's bytes.
    await roundBlobs(this.env.WEIGHTS, await this.slug(), lease.round).putSlot(slotName(lease.id, net, index), bytes, hash);
    // Other uploads of this lease may have run during the R2 write: record on a fresh read, and
    // only if the lease did not commit or close meanwhile.
    const fresh = (await this.store.lease(lease.id))!;
    const closed = liveness(fresh, await this.store.round(), this.now());
    if (closed) return this.rejected(fresh, fresh.round, closed);
    (fresh.uploads[net] ??= {})[index] = { hash, sumSquares: decoded.sumSquares };
    await this.store.putLease(fresh);
    return { ok: true, value: { network: net, index, hash, sumSquares: decoded.sumSquares } };
  }

  async commit(leaseId: string, contributor: string, req: CommitRequest): Promise<RoundResult<CommitReceipt>> {
    const lease = await this.store.lease(leaseId);
    if (!lease || lease.contributor !== contributor) return refuse('unknown_lease', `no lease "${leaseId}" for this token`);
    const r = await this.store.round();
    const cfg = await this.store.config();
    const receipt = async (repeated: boolean): Promise<RoundResult<CommitReceipt>> => ({
      ok: true,
      value: { round: lease.round, lease: lease.id, accepted: true, repeated, committed: distinctContributors(await this.store.leases(lease.round)), quorum: cfg.quorum },
    });
    if (lease.commit) {
      // A retried commit (the answer got lost) is acknowledged, never counted again.
      if (JSON.stringify(lease.commit.shards) === JSON.stringify(req.shards) && lease.commit.samples === req.samples) return receipt(true);
      return this.rejected(lease, lease.round, refuse('already_committed', `lease ${lease.id} already committed a different contribution`));
    }
    const dead = liveness(lease, r, this.now());
    if (dead) return this.rejected(lease, lease.round, dead);
    const open = r as OpenRound;
    const checked = admitCommit(lease, open, req, this.maxShardBytes);
    if (!checked.ok) return this.rejected(lease, r.number, checked);
    const at = this.now();
    lease.commit = { samples: req.samples, steps: req.steps, norms: checked.norms, losses: req.losses, at, shards: Object.fromEntries(NETWORKS.map((n) => [n, req.shards[n]])) as Record<NetworkName, string[]> };
    await this.store.putLease(lease);
    this.store.record({ round: r.number, at, kind: 'accepted', lease: lease.id, contributor: lease.contributor, samples: req.samples, steps: req.steps, losses: req.losses });
    this.setContribution(lease, 'committed');
    const decision = closeDecision(open, await this.store.leases(open.number), cfg, this.now());
    await this.ctx.storage.setAlarm(decision.kind === 'wait' ? decision.until : this.now());
    return receipt(false);
  }

  /** Where one contribution stands (its owner's CLI and browser poll this after committing). */
  async contribution(leaseId: string, contributor: string): Promise<RoundResult<ContributionStatus>> {
    const got = this.store.contribution(leaseId);
    if (!got || got.contributor !== contributor) return refuse('unknown_lease', `no lease "${leaseId}" for this token`);
    const s = got.status;
    if (s.state === 'leased') {
      const l = await this.store.lease(leaseId);
      if (!l || this.now() > l.expiresAt) return { ok: true, value: { ...s, state: 'expired' } };
    }
    return { ok: true, value: s };
  }

  async status(slug?: string): Promise<RoundStatus> {
    const pair = await this.slug(slug);
    const r = await this.store.round();
    const leases = r.state === 'idle' ? [] : await this.store.leases(r.number);
    return {
      pair,
      round: r.number,
      state: r.state,
      baseVersion: r.baseVersion,
      position: r.position,
      deadline: r.state === 'open' ? r.deadline : null,
      leases: leases.length,
      committed: distinctContributors(leases),
      schedule: r.state === 'idle' ? null : { kind: r.schedule.kind, why: r.schedule.why, lr: innerLrAt(r.position, r.schedule.schedule) },
      outstanding: outstanding(leases, this.now()).length,
      validation: await new Storage(this.env.WEIGHTS).validationCounts(pair),
      config: await this.store.config(),
      history: this.store.latestHistory(STATUS_HISTORY),
      rejections: this.store.latestRejections(STATUS_REJECTIONS),
    };
  }

  async history(before: number | undefined, limit: number) {
    return this.store.historyPage(before, limit);
  }

  async configure(slug: string, patch: RoundConfigPatch): Promise<RoundResult<RoundStatus>> {
    await this.slug(slug);
    let next;
    try {
      next = applyConfigPatch(await this.store.config(), patch);
    } catch (e) {
      const issues = (e as { issues?: Array<{ path: PropertyKey[]; message: string }> }).issues;
      const msg = issues?.length ? issues.map((i) => `${i.path.map(String).join('.') || 'config'}: ${i.message}`).join('; ') : String(e);
      return refuse('bad_config', `round config: ${msg}`);
    }
    await this.store.setConfig(next);
    return { ok: true, value: await this.status() };
  }

  /** The owner pointed `current` at another version (the route already did it in the registry). */
  async rolledBack(version: number, from: number | null): Promise<void> {
    const r = await this.store.round();
    this.store.record({ round: r.number, at: this.now(), kind: 'rolled_back', version, reason: `the owner set current to version ${version}${from === null ? '' : ` (was ${from})`}` });
  }

  private running: Promise<void> | null = null;

  /** The deadline, quorum reached, or the next step of closing: one bounded step per call. */
  override async alarm(): Promise<void> {
    // One step at a time: a second alarm (or a test calling in) waits for the first.
    while (this.running) await this.running.catch(() => {});
    this.running = this.step();
    try {
      await this.running;
    } finally {
      this.running = null;
    }
  }

  private async step(): Promise<void> {
    const r = await this.store.round();
    if (r.state === 'idle') return;
    const cfg = await this.store.config();
    if (r.state === 'open') {
      const decision = closeDecision(r, await this.store.leases(r.number), cfg, this.now());
      if (decision.kind === 'wait') {
        await this.ctx.storage.setAlarm(decision.until);
        return;
      }
      if (decision.kind === 'extend') {
        const deadline = this.now() + cfg.roundMs;
        await this.store.setRound({ ...r, deadline });
        this.store.record({ round: r.number, at: this.now(), kind: 'extended', reason: `${decision.committed} of the ${cfg.quorum.min} contributors needed` });
        await this.ctx.storage.setAlarm(deadline);
        return;
      }
      const aggregating: AggregatingRound = { ...r, state: 'aggregating', frozen: decision.frozen };
      await this.store.setRound(aggregating);
      await this.ctx.storage.setAlarm(this.now());
      return;
    }
    await this.ctx.storage.setAlarm(this.now() + RETRY_MS);
    if (r.state === 'aggregating') await this.aggregateStep(r, cfg);
    else await this.gateStep(r);
  }

  private async frozenLeases(r: AggregatingRound | GatingRound): Promise<LeaseRecord[]> {
    return (await Promise.all(r.frozen.map((id) => this.store.lease(id)))).map((l) => l!);
  }

  /** Builds one network of the candidate; when all are built, stores the candidate and starts the gate. */
  private async aggregateStep(r: AggregatingRound, cfg: Awaited<ReturnType<RoundStore['config']>>): Promise<void> {
    const slug = await this.slug();
    const registry = new Registry(this.env.DB);
    const pair = await registry.getPair(slug);
    const leases = await this.frozenLeases(r);
    if (pair?.currentVersion !== r.baseVersion) {
      await this.finish(r, leases, { merged: false, reason: `stale_base: version ${pair?.currentVersion} replaced ${r.baseVersion} while the round was closing` });
      return;
    }
    const base = (await registry.getVersion(slug, r.baseVersion))!.manifest;
    const outer = await this.store.get<OuterState>('outer');
    const weights = contributionWeights(leases);
    const contributions: RoundContribution[] = leases.map((l, i) => ({
      samples: weights[i],
      norms: l.commit!.norms,
      shards: Object.fromEntries(NETWORKS.map((n) => [n, l.commit!.shards[n].map((_h, k) => slotName(l.id, n, k))])) as Record<NetworkName, string[]>,
    }));
    const faults = (await this.store.get<Faults>('faults')) ?? {};
    let writes = 0;
    const input: BuildInput = {
      blobs: storageBlobs(this.env.WEIGHTS),
      deltas: roundBlobs(this.env.WEIGHTS, slug, r.number),
      base,
      momentum: outer?.version === r.baseVersion ? outer.momentum : null,
      contributions,
      config: cfg,
      meta: {
        source: 'round',
        round: r.number,
        base: r.baseVersion,
        contributions: leases.length,
        contributors: new Set(leases.map((l) => l.contributor)).size,
        mode: cfg.aggregation.mode,
        // The next round continues from here.
        schedule: scheduleAfterRound(r.schedule, Math.max(...leases.map((l) => l.commit!.steps))),
      },
      maxShardBytes: this.maxShardBytes,
      afterWrite: () => {
        writes++;
        if (faults.failAfterWrites != null && writes >= faults.failAfterWrites) throw new Error(`injected failure after ${writes} shard writes`);
      },
    };
    // One network per step: each alarm has its own CPU budget, which the full preset's
    // generators with many contributions need (bench/aggregate.ts).
    const progress = (await this.store.get<{ round: number; parts: NetworkParts }>('built')) ?? { round: r.number, parts: {} };
    if (progress.round !== r.number) progress.parts = {};
    const todo = NETWORKS.filter((n) => base.groups[n] && !progress.parts[n]);
    if (todo.length) {
      try {
        Object.assign(progress.parts, await buildNetworks(input, [todo[0]]));
      } catch (e) {
        if (e instanceof NonFiniteAggregate) {
          await this.finish(r, leases, { merged: false, reason: `not_finite: ${e.message}; nothing was stored as a version` });
          return;
        }
        if (faults.failAfterWrites != null) await this.store.put({ faults: { ...faults, injected: (faults.injected ?? 0) + 1 } });
        throw e;
      }
      await this.store.put({ built: { round: r.number, parts: progress.parts } });
      if (todo.length > 1) {
        await this.ctx.storage.setAlarm(this.now());
        return;
      }
    }
    const built = assembleVersion(base, progress.parts, input.meta);
    // The momentum goes with the version it produced; kept until the gate decides.
    await this.store.put({ pendingOuter: { momentum: built.momentum, round: r.number } });
    const contributors = new Set(leases.map((l) => l.contributor)).size;
    const candidate = await registry.addRoundVersion(slug, r.number, built.manifest, { status: 'pending', base: r.baseVersion, contributors });
    this.store.record({ round: r.number, at: this.now(), kind: 'aggregated', version: candidate, contributors, samples: leases.reduce((s, l) => s + l.commit!.samples, 0) });
    const gating: GatingRound = { ...r, state: 'gating', candidate };
    await this.store.setRound(gating);
    await this.ctx.storage.setAlarm(this.now());
  }

  /** One bounded step of the quality gate; when it has spoken, current moves (or not) and the round ends. */
  private async gateStep(r: GatingRound): Promise<void> {
    const slug = await this.slug();
    const registry = new Registry(this.env.DB);
    const storage = new Storage(this.env.WEIGHTS);
    const leases = await this.frozenLeases(r);
    const stale = async (why: string) => {
      const v = await registry.getVersion(slug, r.candidate);
      await registry.setGate(slug, r.candidate, { ...(v?.gate ?? { base: r.baseVersion }), status: 'stale', reasons: [why], decidedAt: this.now() });
      this.store.record({ round: r.number, at: this.now(), kind: 'stale', version: r.candidate, reason: why });
      await this.finish(r, leases, { merged: false, reason: `stale: ${why}` });
    };
    const pair = await registry.getPair(slug);
    if (pair?.currentVersion === r.candidate) {
      // A retry after the move landed (the object died before finishing): just finish.
      const v = await registry.getVersion(slug, r.candidate);
      const metrics = v?.gate?.metrics;
      this.store.record({ round: r.number, at: this.now(), kind: 'passed', version: r.candidate, contributors: new Set(leases.map((l) => l.contributor)).size, metrics });
      return this.finish(r, leases, { merged: true, version: r.candidate, metrics });
    }
    if (pair?.currentVersion !== r.baseVersion) return stale(`current moved to version ${pair?.currentVersion} while version ${r.candidate} was being checked`);
    const val = await loadValidation(storage, slug);
    const [base, candidate] = await Promise.all([registry.getVersion(slug, r.baseVersion), registry.getVersion(slug, r.candidate)]);
    const fetchShard = async (hash: string) => {
      const obj = await storage.getShard(hash);
      if (!obj) throw new Error(`shard ${hash} is not stored`);
      return new Uint8Array(await new Response(obj.body).arrayBuffer());
    };
    const runner = new GateRunner(this.store, fetchShard);
    const result = val
      ? await runner.run({ number: r.baseVersion, manifest: base!.manifest }, { number: r.candidate, manifest: candidate!.manifest }, val, toleranceFor(r.schedule.kind))
      : null;
    if (val && !result) {
      await this.ctx.storage.setAlarm(this.now());
      return;
    }
    const contributors = new Set(leases.map((l) => l.contributor)).size;
    const verdict = result?.verdict ?? { pass: false, reasons: ['the pair has no validation set any more'] };
    const metrics = result?.metrics as Record<string, number | boolean> | undefined;
    const gate = { base: r.baseVersion, metrics, baseMetrics: result?.baseMetrics as Record<string, number | boolean> | undefined, contributors, decidedAt: this.now() };
    if (!verdict.pass) {
      await registry.setGate(slug, r.candidate, { ...gate, status: 'rejected', reasons: verdict.reasons });
      this.store.record({ round: r.number, at: this.now(), kind: 'gate_rejected', version: r.candidate, contributors, metrics, reason: verdict.reasons.join(' ') });
      await this.finish(r, leases, { merged: false, reason: `the gate rejected version ${r.candidate}: ${verdict.reasons.join(' ')}`, metrics });
      return;
    }
    // Passed: record it first, so a crash between here and the move is finished on retry.
    await registry.setGate(slug, r.candidate, { ...gate, status: 'passed' });
    if (!(await registry.advanceCurrent(slug, r.baseVersion, r.candidate))) {
      const now = await registry.getPair(slug);
      if (now?.currentVersion !== r.candidate) return stale(`current moved to version ${now?.currentVersion} before version ${r.candidate} could be made current`);
    }
    this.store.record({ round: r.number, at: this.now(), kind: 'passed', version: r.candidate, contributors, metrics });
    await this.finish(r, leases, { merged: true, version: r.candidate, metrics });
  }

  /** Ends a closing round: contributions marked, outer state advanced on a merge, scratch deleted. */
  private async finish(
    r: AggregatingRound | GatingRound,
    leases: LeaseRecord[],
    outcome: { merged: true; version: number; metrics?: Record<string, number | boolean> } | { merged: false; reason: string; metrics?: Record<string, number | boolean> },
  ): Promise<void> {
    const cfg = await this.store.config();
    const candidate = r.state === 'gating' ? r.candidate : undefined;
    for (const l of leases)
      this.setContribution(l, outcome.merged ? 'merged' : 'not_merged', { version: outcome.merged ? outcome.version : candidate, reason: outcome.merged ? undefined : outcome.reason, metrics: outcome.metrics });
    if (!outcome.merged && r.state === 'aggregating') {
      this.store.record({ round: r.number, at: this.now(), kind: 'abandoned', reason: outcome.reason });
    }
    const pending = await this.store.get<{ momentum: MomentumIndex; round: number }>('pendingOuter');
    const next: RoundState = {
      state: 'idle',
      number: r.number,
      baseVersion: outcome.merged ? outcome.version : r.baseVersion,
      position: outcome.merged ? r.position + cfg.train.steps : r.position,
    };
    const puts: Record<string, unknown> = { round: next };
    if (outcome.merged && pending?.round === r.number) puts.outer = { version: outcome.version, momentum: pending.momentum } satisfies OuterState;
    await this.store.put(puts);
    await this.store.delete(['pendingOuter', 'built']);
    await this.store.dropLeasesBefore(r.number);
    this.store.dropGatePartsExcept([next.baseVersion!]);
    await this.ctx.storage.deleteAlarm();
    // The round's deltas (counted or not, e.g. a vanished contributor's partial upload) are done with.
    await new Storage(this.env.WEIGHTS).deleteRoundShards(await this.slug(), r.number);
  }

  /** An open round whose base was replaced: its contributions cannot apply any more. */
  private async abandon(r: OpenRound, reason: string): Promise<void> {
    const leases = await this.store.leases(r.number);
    for (const l of leases) this.setContribution(l, 'not_merged', { reason });
    this.store.record({ round: r.number, at: this.now(), kind: 'abandoned', reason } satisfies HistoryEntry);
    await this.store.dropLeasesBefore(r.number);
    await new Storage(this.env.WEIGHTS).deleteRoundShards(await this.slug(), r.number);
  }
}

