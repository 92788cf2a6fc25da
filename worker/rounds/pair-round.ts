/**
 * PairRound: one Durable Object per pair (named by its slug) that owns the pair's community
 * training round (DESIGN.md "Community training rounds"). Only this class holds round state; it
 * keeps it in its own storage, so a restarted worker finds the round where it was.
 *
 * Life of a round:
 *   idle ──lease──▶ open ──quorum.max commits, or deadline (alarm)──▶ aggregating ──▶ idle (next round)
 *                    ▲                     │ fewer than quorum.min at the deadline
 *                    └──── extended ◀──────┘
 *
 * Aggregation runs in `alarm()`: the Workers runtime retries a failed alarm, and the work is
 * retry-safe. The round first freezes the list of contributions it will use (persisted), then
 * builds the next version (build-version.ts: content-addressed shards, deterministic), declares
 * it in the registry and commits it (which moves `current`), and only then advances its own
 * state. A crash before the commit leaves the old version current and a retry rebuilds the same
 * bytes and manifest (the registry returns the same pending version for the same manifest); a
 * crash after it is recognised on retry by the version's `meta.round`, so nothing is counted twice.
 *
 * Methods return `RoundResult`s rather than throwing, because errors lose their class across
 * RPC; the routes turn a refusal into an ApiError.
 */
import { DurableObject } from 'cloudflare:workers';
import { NETWORKS, type NetworkName } from '../../shared/model/config.ts';
import { decodeDeltaShard, deltaShardSizes, networkLength } from '../../shared/rounds/delta.ts';
import {
  applyConfigPatch,
  DEFAULT_ROUND_CONFIG,
  innerLrAt,
  type CommitReceipt,
  type CommitRequest,
  type HistoryEntry,
  type Lease,
  type RejectReason,
  type RoundConfig,
  type RoundConfigPatch,
  type RoundStatus,
  type UploadReceipt,
} from '../../shared/rounds/protocol.ts';
import { checkCommit } from '../../shared/rounds/validate.ts';
import { MAX_SHARD_BYTES, type CheckpointManifest } from '../../shared/weights/format.ts';
import { sha256Hex } from '../../shared/weights/sha256.ts';
import type { Env } from '../env.ts';
import { Registry } from '../registry.ts';
import { roundBlobs, storageBlobs } from './r2-blobs.ts';
import { Storage } from '../storage.ts';
import { assembleVersion, buildNetworks, type BuildInput, type MomentumIndex, type NetworkParts, type RoundContribution } from './build-version.ts';

export type Refusal = { ok: false; status: 400 | 404 | 409 | 410 | 422; reason: RejectReason | 'no_version' | 'bad_config'; message: string };
export type RoundResult<T> = { ok: true; value: T } | Refusal;

const REASON_STATUS: Record<RejectReason, Refusal['status']> = {
  unknown_lease: 404,
  lease_expired: 410,
  stale_base: 409,
  round_closed: 409,
  already_committed: 409,
  bad_shard_index: 400,
  size_mismatch: 400,
  hash_mismatch: 400,
  not_finite: 422,
  missing_shards: 400,
  wrong_shape: 400,
  norm_mismatch: 422,
  norm_too_large: 422,
  bad_counts: 400,
};

interface RoundState {
  number: number;
  state: 'idle' | 'open' | 'aggregating';
  baseVersion: number | null;
  /** Global schedule position (inner steps taken by earlier rounds). */
  position: number;
  deadline: number | null;
  /** Values per network of the base (from its manifest), fixed for the round. */
  lengths: Record<NetworkName, number> | null;
  /** Leases whose contributions the aggregation uses, in order; set when it starts. */
  frozen: string[] | null;
}

interface LeaseRecord {
  id: string;
  round: number;
  baseVersion: number;
  contributor: string;
  name?: string;
  issuedAt: number;
  expiresAt: number;
  /** Settings handed out with the lease (the inner lr at the round's schedule position). */
  train: RoundConfig['train'];
  uploads: Partial<Record<NetworkName, Record<number, { hash: string; sumSquares: number }>>>;
  commit?: {
    samples: number;
    steps: number;
    norms: Record<NetworkName, number>;
    losses?: Record<string, number>;
    shards: Record<NetworkName, string[]>;
  };
}

interface OuterState {
  /** The version this momentum belongs to (the next round's base). */
  version: number;
  momentum: MomentumIndex;
}

const HISTORY_LIMIT = 500;
const RETRY_MS = 60_000;
const leaseKey = (id: string) => `lease:${id}`;

function refuse(reason: RejectReason, message: string): Refusal {
  return { ok: false, status: REASON_STATUS[reason], reason, message };
}

export class PairRound extends DurableObject<Env> {
  /** Tests set this to throw after that many shard writes during aggregation. */
  failAfterWrites: number | null = null;
  /** How many injected failures fired (tests wait on it). */
  injectedFailures = 0;
  /** Overrides the format's shard size for delta shards (tests use small ones). */
  maxShardBytes = MAX_SHARD_BYTES;

  private now(): number {
    return Date.now();
  }

  private async slug(slug?: string): Promise<string> {
    const stored = await this.ctx.storage.get<string>('pair');
    if (stored) return stored;
    if (!slug) throw new Error('PairRound: the pair slug is not known yet');
    await this.ctx.storage.put('pair', slug);
    return slug;
  }

  private async config(): Promise<RoundConfig> {
    return (await this.ctx.storage.get<RoundConfig>('config')) ?? DEFAULT_ROUND_CONFIG;
  }

  private async round(): Promise<RoundState> {
    return (
      (await this.ctx.storage.get<RoundState>('round')) ?? {
        number: 0,
        state: 'idle',
        baseVersion: null,
        position: 0,
        deadline: null,
        lengths: null,
        frozen: null,
      }
    );
  }

  private async history(): Promise<HistoryEntry[]> {
    return (await this.ctx.storage.get<HistoryEntry[]>('history')) ?? [];
  }

  private async record(...entries: HistoryEntry[]): Promise<void> {
    const h = await this.history();
    h.push(...entries);
    await this.ctx.storage.put('history', h.slice(-HISTORY_LIMIT));
  }

  private async reject(round: number, lease: LeaseRecord | undefined, r: Refusal): Promise<Refusal> {
    await this.record({ round, at: this.now(), kind: 'rejected', lease: lease?.id, contributor: lease?.contributor, reason: `${r.reason}: ${r.message}` });
    return r;
  }

  private async leases(round: number): Promise<LeaseRecord[]> {
    const all = await this.ctx.storage.list<LeaseRecord>({ prefix: 'lease:' });
    return [...all.values()].filter((l) => l.round === round).sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** Opens a round on the pair's current version (or notices the current one went stale). */
  private async openRound(slug: string, r: RoundState, cfg: RoundConfig): Promise<RoundResult<RoundState>> {
    const registry = new Registry(this.env.DB);
    const pair = await registry.getPair(slug);
    if (!pair) return { ok: false, status: 404, reason: 'no_version', message: `pair "${slug}" does not exist` };
    if (pair.currentVersion === null)
      return { ok: false, status: 409, reason: 'no_version', message: `pair "${slug}" has no committed version to train from` };
    if (r.state === 'open' && r.baseVersion === pair.currentVersion) return { ok: true, value: r };
    if (r.state === 'open') {
      // The owner pushed a new version mid-round: these deltas are against a stale base.
      await this.record({ round: r.number, at: this.now(), kind: 'abandoned', reason: `stale_base: version ${pair.currentVersion} replaced ${r.baseVersion}` });
      await new Storage(this.env.WEIGHTS).deleteRoundShards(slug, r.number);
    }
    const version = await registry.getVersion(slug, pair.currentVersion);
    const manifest = version!.manifest;
    const missing = NETWORKS.filter((n) => !manifest.groups[n]);
    if (missing.length)
      return { ok: false, status: 409, reason: 'no_version', message: `version ${pair.currentVersion} lacks ${missing.join(', ')}, so it cannot be trained` };
    const lengths = Object.fromEntries(NETWORKS.map((n) => [n, networkLength(manifest.config, n)])) as Record<NetworkName, number>;
    const next: RoundState = {
      number: r.number + 1,
      state: 'open',
      baseVersion: pair.currentVersion,
      position: r.position,
      deadline: this.now() + cfg.roundMs,
      lengths,
      frozen: null,
    };
    await this.ctx.storage.put('round', next);
    await this.ctx.storage.setAlarm(next.deadline!);
    return { ok: true, value: next };
  }

  async lease(slug: string, contributor: string, name?: string): Promise<RoundResult<Lease>> {
    slug = await this.slug(slug);
    const cfg = await this.config();
    let r = await this.round();
    if (r.state === 'aggregating')
      return { ok: false, status: 409, reason: 'round_closed', message: `round ${r.number} is aggregating; lease again in a moment` };
    const opened = await this.openRound(slug, r, cfg);
    if (!opened.ok) return opened;
    r = opened.value;
    const issuedAt = this.now();
    const train = { ...cfg.train, lr: innerLrAt(r.position, cfg.schedule) };
    const rec: LeaseRecord = {
      id: crypto.randomUUID(),
      round: r.number,
      baseVersion: r.baseVersion!,
      contributor,
      name,
      issuedAt,
      expiresAt: Math.min(r.deadline!, issuedAt + cfg.leaseMs),
      train,
      uploads: {},
    };
    await this.ctx.storage.put(leaseKey(rec.id), rec);
    return {
      ok: true,
      value: {
        pair: slug,
        round: r.number,
        lease: rec.id,
        baseVersion: rec.baseVersion,
        position: r.position,
        train,
        networks: [...NETWORKS],
        maxShardBytes: this.maxShardBytes,
        issuedAt,
        expiresAt: rec.expiresAt,
        deadline: r.deadline!,
      },
    };
  }

  /** The caller's lease and the round; liveness is checked separately so a repeated commit gets through. */
  private async usableLease(id: string, contributor: string): Promise<{ lease: LeaseRecord; round: RoundState } | Refusal> {
    const r = await this.round();
    const lease = await this.ctx.storage.get<LeaseRecord>(leaseKey(id));
    if (!lease || lease.contributor !== contributor) return refuse('unknown_lease', `no lease "${id}" for this token`);
    return { lease, round: r };
  }

  private liveness(lease: LeaseRecord, r: RoundState): Refusal | null {
    if (lease.commit) return refuse('already_committed', `lease ${lease.id} has already committed`);
    if (lease.round !== r.number || r.state !== 'open')
      return r.baseVersion !== lease.baseVersion
        ? refuse('stale_base', `lease ${lease.id} trained from version ${lease.baseVersion}, the round now builds on ${r.baseVersion}`)
        : refuse('round_closed', `round ${lease.round} is closed`);
    if (this.now() > lease.expiresAt) return refuse('lease_expired', `lease ${lease.id} expired at ${new Date(lease.expiresAt).toISOString()}`);
    return null;
  }

  async upload(leaseId: string, contributor: string, net: NetworkName, index: number, hash: string, bytes: Uint8Array): Promise<RoundResult<UploadReceipt>> {
    const got = await this.usableLease(leaseId, contributor);
    if ('ok' in got) return got;
    const { lease, round: r } = got;
    const dead = this.liveness(lease, r);
    if (dead) return this.reject(lease.round, lease, dead);
    if (!NETWORKS.includes(net)) return this.reject(r.number, lease, refuse('bad_shard_index', `unknown network "${net}" (expected ${NETWORKS.join(', ')})`));
    const sizes = deltaShardSizes(r.lengths![net], this.maxShardBytes);
    if (!Number.isInteger(index) || index < 0 || index >= sizes.length)
      return this.reject(r.number, lease, refuse('bad_shard_index', `${net} has shards 0..${sizes.length - 1}, got ${index}`));
    if (bytes.byteLength !== sizes[index])
      return this.reject(r.number, lease, refuse('size_mismatch', `${net} shard ${index} must be ${sizes[index]} bytes (float16), got ${bytes.byteLength}`));
    const actual = await sha256Hex(bytes);
    if (actual !== hash) return this.reject(r.number, lease, refuse('hash_mismatch', `${net} shard ${index}: its SHA-256 is ${actual}, not ${hash}`));
    const decoded = decodeDeltaShard(bytes);
    if (!decoded.finite) return this.reject(r.number, lease, refuse('not_finite', `${net} shard ${index} holds NaN or infinite values`));
    await roundBlobs(this.env.WEIGHTS, await this.slug(), lease.round).put(hash, bytes);
    // Other uploads of this lease may have run during the R2 write: record on a fresh read, and
    // only if the lease did not commit or close meanwhile.
    const fresh = (await this.ctx.storage.get<LeaseRecord>(leaseKey(lease.id)))!;
    const closed = this.liveness(fresh, await this.round());
    if (closed) return this.reject(fresh.round, fresh, closed);
    (fresh.uploads[net] ??= {})[index] = { hash, sumSquares: decoded.sumSquares };
    await this.ctx.storage.put(leaseKey(lease.id), fresh);
    return { ok: true, value: { network: net, index, hash, sumSquares: decoded.sumSquares } };
  }

  async commit(leaseId: string, contributor: string, req: CommitRequest): Promise<RoundResult<CommitReceipt>> {
    const got = await this.usableLease(leaseId, contributor);
    if ('ok' in got) return got;
    const { lease, round: r } = got;
    const cfg = await this.config();
    const receipt = (repeated: boolean, committed: number): RoundResult<CommitReceipt> => ({
      ok: true,
      value: { round: lease.round, lease: lease.id, accepted: true, repeated, committed, quorum: cfg.quorum },
    });
    if (lease.commit) {
      // A retried commit (the answer got lost) is acknowledged, never counted again.
      if (JSON.stringify(lease.commit.shards) === JSON.stringify(req.shards) && lease.commit.samples === req.samples)
        return receipt(true, (await this.leases(lease.round)).filter((l) => l.commit).length);
      return this.reject(lease.round, lease, refuse('already_committed', `lease ${lease.id} already committed a different contribution`));
    }
    const dead = this.liveness(lease, r);
    if (dead) return this.reject(lease.round, lease, dead);
    const measured = {} as Record<NetworkName, number>;
    for (const net of NETWORKS) {
      const want = deltaShardSizes(r.lengths![net], this.maxShardBytes).length;
      const hashes = req.shards[net];
      if (hashes.length !== want)
        return this.reject(r.number, lease, refuse('wrong_shape', `${net}: the delta has ${want} shards for ${r.lengths![net]} values, the commit lists ${hashes.length}`));
      let s = 0;
      for (let i = 0; i < want; i++) {
        const up = lease.uploads[net]?.[i];
        if (!up) return this.reject(r.number, lease, refuse('missing_shards', `${net} shard ${i} was never uploaded`));
        if (up.hash !== hashes[i]) return this.reject(r.number, lease, refuse('hash_mismatch', `${net} shard ${i} was uploaded as ${up.hash}, the commit says ${hashes[i]}`));
        s += up.sumSquares;
      }
      measured[net] = Math.sqrt(s);
    }
    const bad = checkCommit(req, lease.train, r.lengths!, measured);
    if (bad) return this.reject(r.number, lease, refuse(bad.reason, bad.message));
    lease.commit = { samples: req.samples, steps: req.steps, norms: measured, losses: req.losses, shards: req.shards };
    await this.ctx.storage.put(leaseKey(lease.id), lease);
    await this.record({ round: r.number, at: this.now(), kind: 'accepted', lease: lease.id, contributor, samples: req.samples, steps: req.steps, losses: req.losses });
    const committed = (await this.leases(r.number)).filter((l) => l.commit).length;
    // At quorum the alarm fires now rather than at the deadline; it is what retries on failure.
    if (committed >= cfg.quorum.max) await this.ctx.storage.setAlarm(this.now());
    return receipt(false, committed);
  }

  async status(slug?: string): Promise<RoundStatus> {
    const pair = await this.slug(slug);
    const r = await this.round();
    const leases = await this.leases(r.number);
    return {
      pair,
      round: r.number,
      state: r.state,
      baseVersion: r.baseVersion,
      position: r.position,
      deadline: r.deadline,
      leases: leases.length,
      committed: leases.filter((l) => l.commit).length,
      config: await this.config(),
      history: await this.history(),
    };
  }

  async configure(slug: string, patch: RoundConfigPatch): Promise<RoundResult<RoundStatus>> {
    await this.slug(slug);
    let next: RoundConfig;
    try {
      next = applyConfigPatch(await this.config(), patch);
    } catch (e) {
      const issues = (e as { issues?: Array<{ path: PropertyKey[]; message: string }> }).issues;
      const msg = issues?.length ? issues.map((i) => `${i.path.map(String).join('.') || 'config'}: ${i.message}`).join('; ') : String(e);
      return { ok: false, status: 400, reason: 'bad_config', message: `round config: ${msg}` };
    }
    await this.ctx.storage.put('config', next);
    return { ok: true, value: await this.status() };
  }

  private running: Promise<void> | null = null;

  /** The deadline, or quorum reached: aggregate, extend, or (retry) finish an aggregation. */
  override async alarm(): Promise<void> {
    // One aggregation at a time: a second alarm (or a test calling in) waits for the first.
    while (this.running) await this.running.catch(() => {});
    this.running = this.closeRound();
    try {
      await this.running;
    } finally {
      this.running = null;
    }
  }

  private async closeRound(): Promise<void> {
    const r = await this.round();
    if (r.state === 'idle') return;
    const cfg = await this.config();
    if (r.state === 'open') {
      const committed = (await this.leases(r.number)).filter((l) => l.commit);
      const due = this.now() >= (r.deadline ?? 0) || committed.length >= cfg.quorum.max;
      if (!due) {
        await this.ctx.storage.setAlarm(r.deadline!);
        return;
      }
      if (committed.length < cfg.quorum.min) {
        r.deadline = this.now() + cfg.roundMs;
        await this.ctx.storage.put('round', r);
        await this.record({ round: r.number, at: this.now(), kind: 'extended', reason: `${committed.length} of the ${cfg.quorum.min} contributions needed` });
        await this.ctx.storage.setAlarm(r.deadline);
        return;
      }
      r.state = 'aggregating';
      r.frozen = committed.map((l) => l.id);
      await this.ctx.storage.put('round', r);
    }
    await this.aggregate(r, cfg);
  }

  private async aggregate(r: RoundState, cfg: RoundConfig): Promise<void> {
    // Should the runtime give up retrying a failing alarm, this one resumes the work later.
    await this.ctx.storage.setAlarm(this.now() + RETRY_MS);
    const slug = await this.slug();
    const registry = new Registry(this.env.DB);
    const pair = await registry.getPair(slug);
    const leases = (await Promise.all(r.frozen!.map((id) => this.ctx.storage.get<LeaseRecord>(leaseKey(id))))).map((l) => l!);
    let number: number;
    if (pair?.currentVersion === r.baseVersion) {
      const base = (await registry.getVersion(slug, r.baseVersion!))!.manifest;
      const outer = await this.ctx.storage.get<OuterState>('outer');
      const contributions: RoundContribution[] = leases.map((l) => ({ samples: l.commit!.samples, norms: l.commit!.norms, shards: l.commit!.shards }));
      let writes = 0;
      const input: BuildInput = {
        blobs: storageBlobs(this.env.WEIGHTS),
        deltas: roundBlobs(this.env.WEIGHTS, slug, r.number),
        base,
        momentum: outer?.version === r.baseVersion ? outer.momentum : null,
        contributions,
        config: cfg,
        meta: { source: 'round', round: r.number, base: r.baseVersion, contributions: leases.length, mode: cfg.aggregation.mode },
        maxShardBytes: this.maxShardBytes,
        afterWrite: () => {
          writes++;
          if (this.failAfterWrites !== null && writes >= this.failAfterWrites) {
            this.injectedFailures++;
            throw new Error(`injected failure after ${writes} shard writes`);
          }
        },
      };
      // One network per alarm: each invocation has its own CPU budget (30 s by default), which
      // the full preset's generators with many contributions need (bench/aggregate.ts).
      const progress = (await this.ctx.storage.get<{ round: number; parts: NetworkParts }>('built')) ?? { round: r.number, parts: {} };
      if (progress.round !== r.number) progress.parts = {};
      const todo = NETWORKS.filter((n) => base.groups[n] && !progress.parts[n]);
      if (todo.length) {
        Object.assign(progress.parts, await buildNetworks(input, [todo[0]]));
        await this.ctx.storage.put('built', { round: r.number, parts: progress.parts });
        if (todo.length > 1) {
          await this.ctx.storage.setAlarm(this.now());
          return;
        }
      }
      const built = assembleVersion(base, progress.parts, input.meta);
      // The momentum goes with the version it produced; written before `current` moves so a
      // crash in between finds it on retry.
      await this.ctx.storage.put('pendingOuter', { momentum: built.momentum, round: r.number } satisfies { momentum: MomentumIndex; round: number });
      number = await registry.declareVersion(slug, built.manifest);
      if (!(await registry.commitVersion(slug, number))) {
        const now = await registry.getPair(slug);
        if (now?.currentVersion !== number) throw new Error(`round ${r.number}: version ${number} could not be made current`);
      }
    } else {
      const current = pair?.currentVersion != null ? await registry.getVersion(slug, pair.currentVersion) : null;
      const meta = current?.manifest.meta as { source?: string; round?: number; base?: number } | undefined;
      if (!current || meta?.source !== 'round' || meta.round !== r.number || meta.base !== r.baseVersion) {
        // Someone pushed a new version while the round was closing: its deltas no longer apply.
        await this.finish(r, null, leases, `stale_base: version ${pair?.currentVersion} replaced ${r.baseVersion}`);
        return;
      }
      number = current.number; // Our own commit landed before a crash: just finish.
    }
    await this.finish(r, number, leases);
  }

  private async finish(r: RoundState, version: number | null, leases: LeaseRecord[], abandoned?: string): Promise<void> {
    const cfg = await this.config();
    const pending = await this.ctx.storage.get<{ momentum: MomentumIndex; round: number }>('pendingOuter');
    const entries: HistoryEntry[] =
      version === null
        ? [{ round: r.number, at: this.now(), kind: 'abandoned', reason: abandoned }]
        : [{ round: r.number, at: this.now(), kind: 'aggregated', version, samples: leases.reduce((s, l) => s + l.commit!.samples, 0) }];
    await this.record(...entries);
    const next: RoundState = {
      number: r.number,
      state: 'idle',
      baseVersion: version ?? r.baseVersion,
      position: version === null ? r.position : r.position + cfg.train.steps,
      deadline: null,
      lengths: r.lengths,
      frozen: null,
    };
    // Leases older than this round go; this round's stay so a retried commit is still recognised.
    const old = [...(await this.ctx.storage.list<LeaseRecord>({ prefix: 'lease:' })).values()].filter((l) => l.round < r.number).map((l) => leaseKey(l.id));
    const puts: Record<string, unknown> = { round: next };
    if (version !== null && pending?.round === r.number) puts.outer = { version, momentum: pending.momentum } satisfies OuterState;
    await this.ctx.storage.put(puts);
    await this.ctx.storage.delete([...old, 'pendingOuter', 'built']);
    await this.ctx.storage.deleteAlarm();
    // The round's deltas (counted or not, e.g. a vanished contributor's partial upload) are done with.
    await new Storage(this.env.WEIGHTS).deleteRoundShards(await this.slug(), r.number);
  }
}
