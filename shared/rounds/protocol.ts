/**
 * The community-training round protocol: what a contributor and the worker say to each other,
 * as zod schemas both sides import (the CLI contributor, the browser contributor, the worker's
 * routes and its PairRound Durable Object).
 *
 *   POST /api/pairs/:slug/round/leases                               → Lease
 *   PUT  /api/pairs/:slug/round/leases/:lease/deltas/:net/:index      (body: one float16 shard;
 *        header X-Shard-Sha256: its hash)                             → UploadReceipt
 *   POST /api/pairs/:slug/round/leases/:lease/commit  (CommitRequest) → CommitReceipt
 *   GET  /api/pairs/:slug/round                                       → RoundStatus
 *   PUT  /api/pairs/:slug/round/config (owner, RoundConfigPatch)      → RoundStatus
 *
 * A contribution is the delta `local − base` of each of the four networks, in the checkpoint
 * format's layout (the group's tensors concatenated in param-spec order) as float16, cut into
 * shards of at most MAX_SHARD_BYTES (shared/rounds/delta.ts). K Adam steps and one plain SGD
 * step (gradient averaging) travel the same way.
 */
import { z } from 'zod';
import { NETWORKS } from '../model/config.ts';
import { label } from '../api/text.ts';

export const NetworkSchema = z.enum(NETWORKS);

const positive = z.number().finite().positive();
const nonNeg = z.number().finite().nonnegative();

export const OuterSettingsSchema = z.object({
  /** At most 2: DiLoCo uses 0.7, FedAvg 1; far beyond that the outer step only amplifies noise (and 1e308 made Inf). */
  lr: positive.max(2),
  momentum: z.number().finite().min(0).lt(1),
  nesterov: z.boolean(),
});

/** What every contributor of a round trains with: the inner loop's settings. */
export const TrainSettingsSchema = z.object({
  /** Inner steps K per contribution. */
  steps: z.number().int().min(1).max(100_000),
  batchSize: z.number().int().min(1).max(64),
  cropSize: z.number().int().min(16).max(1024),
  lambdaCycle: nonNeg,
  lambdaIdentity: nonNeg,
  /** 'adam' for K local Adam steps (DiLoCo), 'sgd' for plain SGD (K = 1 is gradient averaging). */
  optimizer: z.enum(['adam', 'sgd']),
  /** Inner learning rate at the round's position in the global schedule. */
  lr: positive,
  beta1: z.number().finite().min(0).lt(1),
  beta2: z.number().finite().min(0).lt(1),
  /** For 'sgd': contributors clip each step's gradient norm per network to this. */
  gradClip: positive,
  /**
   * Inner lr warm-up: step k (1-based) of a lease runs at lr·min(1, k / warmupSteps), so a fresh
   * Adam's first steps (≈ lr·sign(g) on every weight) do not shake a trained pair (docs/rounds.md).
   * 0 turns it off. Leases and configs written before it existed read as 0.
   */
  warmupSteps: z.number().int().min(0).max(100_000).default(0),
  /** Proximal weight μ: contributors minimise loss + μ‖w − w_base‖² (FedProx). 0 turns it off. */
  proximal: nonNeg.default(0),
  /**
   * Contributors resize images to loadSize×loadSize before the random crop, as the base was
   * trained (the demo: 128, crop 64). Absent: the reference's ratio for the crop (286/256).
   */
  loadSize: z.number().int().min(16).max(4096).optional(),
});
export type TrainSettings = z.infer<typeof TrainSettingsSchema>;

export const AggregationSchema = z.object({
  mode: z.enum(['mean', 'trimmed-mean', 'centred-clip']),
  /** Deltas are clipped to this multiple of the median accepted norm (per network) before combining. */
  clipMultiple: positive,
  /** Fraction dropped at each end per coordinate in 'trimmed-mean'. */
  trimFraction: z.number().finite().min(0).lt(0.5),
});

/** The round's settings the pair's owner may change; defaults in DEFAULT_ROUND_CONFIG. */
export const RoundConfigSchema = z.object({
  train: TrainSettingsSchema,
  /** Global schedule (the reference's lambda_rule in steps): lr constant, then linear decay to 0. */
  schedule: z.object({ lr: positive, constantSteps: z.number().int().min(0), decaySteps: z.number().int().min(0) }),
  outer: z.object({ generators: OuterSettingsSchema, discriminators: OuterSettingsSchema }),
  aggregation: AggregationSchema,
  quorum: z.object({ min: z.number().int().min(1).max(1000), max: z.number().int().min(1).max(1000) }),
  /**
   * A round closes once `quorum.max` distinct contributors have committed and no lease is still
   * out (outstanding leases are waited for until they commit or expire), or this long after it
   * opened, whichever is first.
   */
  roundMs: z.number().int().min(1_000).max(7 * 24 * 3600_000),
  /** A lease lives this long (capped at the round's deadline). */
  leaseMs: z.number().int().min(1_000).max(7 * 24 * 3600_000),
  /** Open leases one token may hold in a round (one contributor, one voice). */
  leasesPerToken: z.number().int().min(1).max(4),
  /** Leases a round hands out in all (bounds its storage: each lease holds at most one delta). */
  maxLeases: z.number().int().min(1).max(256),
}).refine((c) => c.quorum.min <= c.quorum.max, { message: 'quorum.min must not exceed quorum.max', path: ['quorum'] });
export type RoundConfig = z.infer<typeof RoundConfigSchema>;

export const RoundConfigPatchSchema = z.object({
  train: TrainSettingsSchema.partial().optional(),
  schedule: z.object({ lr: positive, constantSteps: z.number().int().min(0), decaySteps: z.number().int().min(0) }).partial().optional(),
  outer: z.object({ generators: OuterSettingsSchema, discriminators: OuterSettingsSchema }).partial().optional(),
  aggregation: AggregationSchema.partial().optional(),
  quorum: z.object({ min: z.number().int().min(1), max: z.number().int().min(1) }).partial().optional(),
  roundMs: z.number().int().optional(),
  leaseMs: z.number().int().optional(),
  leasesPerToken: z.number().int().optional(),
  maxLeases: z.number().int().optional(),
});
export type RoundConfigPatch = z.infer<typeof RoundConfigPatchSchema>;

/** The reference recipe (lr 2e-4, Adam β 0.5/0.999, λ_cyc 10, λ_id 0.5) with DiLoCo's outer step. */
export const DEFAULT_ROUND_CONFIG: RoundConfig = {
  train: {
    steps: 50,
    batchSize: 1,
    cropSize: 256,
    lambdaCycle: 10,
    lambdaIdentity: 0.5,
    optimizer: 'adam',
    lr: 2e-4,
    beta1: 0.5,
    beta2: 0.999,
    gradClip: 10,
    warmupSteps: 0,
    proximal: 0,
  },
  schedule: { lr: 2e-4, constantSteps: 100_000, decaySteps: 100_000 },
  outer: { generators: { lr: 0.7, momentum: 0.9, nesterov: true }, discriminators: { lr: 0.7, momentum: 0.9, nesterov: true } },
  aggregation: { mode: 'mean', clipMultiple: 2, trimFraction: 0.2 },
  quorum: { min: 2, max: 8 },
  roundMs: 15 * 60_000,
  leaseMs: 15 * 60_000,
  leasesPerToken: 1,
  maxLeases: 32,
};

/** Merges a patch over a config and validates the result (throws a zod error naming the field). */
export function applyConfigPatch(base: RoundConfig, patch: RoundConfigPatch): RoundConfig {
  return RoundConfigSchema.parse({
    train: { ...base.train, ...patch.train },
    schedule: { ...base.schedule, ...patch.schedule },
    outer: { ...base.outer, ...patch.outer },
    aggregation: { ...base.aggregation, ...patch.aggregation },
    quorum: { ...base.quorum, ...patch.quorum },
    roundMs: patch.roundMs ?? base.roundMs,
    leaseMs: patch.leaseMs ?? base.leaseMs,
    leasesPerToken: patch.leasesPerToken ?? base.leasesPerToken ?? DEFAULT_ROUND_CONFIG.leasesPerToken,
    maxLeases: patch.maxLeases ?? base.maxLeases ?? DEFAULT_ROUND_CONFIG.maxLeases,
  });
}

/**
 * The inner lr of the step at global `position` (the steps already trained), exactly as the
 * reference's linear policy and `stripes train` (shared/train/schedule.ts learningRate):
 * `lambda_rule(e) = 1 − max(0, e + epoch_count − n_epochs) / (n_epochs_decay + 1)` with
 * epoch_count 1, read as LambdaLR does after `position` calls of scheduler.step(), one "epoch"
 * per step: lr · (1 − max(0, position + 1 − constantSteps) / (decaySteps + 1)). So the last of
 * the constant steps is position constantSteps − 1, the decay's first step is one below the
 * peak, and position constantSteps + decaySteps (a finished run) gives 0. A run of T steps of
 * `stripes train` is the schedule { constantSteps: ⌈T/2⌉, decaySteps: ⌊T/2⌋ }.
 */
export function innerLrAt(position: number, s: RoundConfig['schedule']): number {
  const factor = 1 - Math.max(0, position + 1 - s.constantSteps) / (s.decaySteps + 1);
  return s.lr * Math.max(0, factor);
}

export const LeaseRequestSchema = z.object({
  /** A free-form name for the history (the token id is what identifies the contributor). */
  name: label(80, { optional: true }).optional(),
});

export const LeaseSchema = z.object({
  pair: z.string(),
  round: z.number().int(),
  lease: z.string(),
  baseVersion: z.number().int(),
  /** Global schedule position of the round's first inner step. */
  position: z.number().int(),
  train: TrainSettingsSchema,
  networks: z.array(NetworkSchema),
  /** Float16 delta shards are cut at this many bytes (the checkpoint format's MAX_SHARD_BYTES). */
  maxShardBytes: z.number().int(),
  issuedAt: z.number().int(),
  expiresAt: z.number().int(),
  deadline: z.number().int(),
});
export type Lease = z.infer<typeof LeaseSchema>;

export const UploadReceiptSchema = z.object({
  network: NetworkSchema,
  index: z.number().int(),
  hash: z.string(),
  /** Σ δ² of this shard as the server decoded it. */
  sumSquares: z.number(),
});
export type UploadReceipt = z.infer<typeof UploadReceiptSchema>;

const perNetwork = <T extends z.ZodType>(t: T) => z.object({ G_AB: t, G_BA: t, D_A: t, D_B: t });

export const CommitRequestSchema = z.object({
  /** Images seen (batch × steps): the weight in the sample-weighted mean, at most batch × steps. */
  samples: z.number().int().min(1),
  steps: z.number().int().min(1),
  /** ‖δ‖₂ per network of the float16-decoded delta; the server recomputes and must agree. */
  norms: perNetwork(nonNeg),
  /** Final or mean losses, for the history only: at most 16, named like `cycle_A`. */
  losses: z
    .record(z.string().regex(/^[A-Za-z0-9_.-]{1,32}$/, 'loss names are 1–32 letters, digits, _ . or -'), z.number().finite())
    .refine((l) => Object.keys(l).length <= 16, { message: 'at most 16 losses' })
    .optional(),
  /** The delta's shard hashes per network, in order. */
  shards: perNetwork(z.array(z.string().regex(/^[0-9a-f]{64}$/)).min(1)),
});
export type CommitRequest = z.infer<typeof CommitRequestSchema>;

export const CommitReceiptSchema = z.object({
  round: z.number().int(),
  lease: z.string(),
  accepted: z.literal(true),
  /** True when this commit had already been recorded (a retried request). */
  repeated: z.boolean(),
  committed: z.number().int(),
  quorum: z.object({ min: z.number().int(), max: z.number().int() }),
});
export type CommitReceipt = z.infer<typeof CommitReceiptSchema>;

/** Why a contribution was turned away; each maps to a 4xx. */
export const REJECT_REASONS = [
  'unknown_lease',
  'lease_expired',
  'stale_base',
  'round_closed',
  'already_committed',
  'bad_shard_index',
  'size_mismatch',
  'hash_mismatch',
  'not_finite',
  'missing_shards',
  'wrong_shape',
  'norm_mismatch',
  'norm_too_large',
  'bad_counts',
  'round_full',
  'lease_limit',
  'no_validation_set',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export const HistoryEntrySchema = z.object({
  round: z.number().int(),
  at: z.number().int(),
  /**
   * accepted: a contribution committed · aggregated: the round's candidate was built as `version`
   * · passed: the gate passed it and it became current · gate_rejected: the gate rejected it
   * (`reason`), current stayed · stale: it passed but current had moved on · extended: too few
   * contributors at the deadline · abandoned: the base was replaced mid-round, or the aggregate
   * was not finite · rolled_back: the owner pointed current at `version`.
   */
  kind: z.enum(['accepted', 'aggregated', 'passed', 'gate_rejected', 'stale', 'extended', 'abandoned', 'rolled_back']),
  lease: z.string().optional(),
  contributor: z.string().optional(),
  samples: z.number().optional(),
  steps: z.number().optional(),
  losses: z.record(z.string(), z.number()).optional(),
  reason: z.string().optional(),
  version: z.number().int().optional(),
  /** Distinct contributors in the round's candidate. */
  contributors: z.number().int().optional(),
  /** The gate's measurements of the candidate (gate entries). */
  metrics: z.record(z.string(), z.union([z.number(), z.boolean()])).optional(),
});
export type HistoryEntry = z.infer<typeof HistoryEntrySchema>;

/** A refused upload or commit: kept apart from the history, and bounded on its own. */
export const RejectionSchema = z.object({
  round: z.number().int(),
  at: z.number().int(),
  lease: z.string().optional(),
  contributor: z.string().optional(),
  reason: z.string(),
});
export type Rejection = z.infer<typeof RejectionSchema>;

/** Where one contribution stands, for the contributor's CLI and browser. */
export const ContributionStatusSchema = z.object({
  lease: z.string(),
  round: z.number().int(),
  baseVersion: z.number().int(),
  /**
   * leased: not committed yet · committed: waiting for the round to close or its gate ·
   * merged: in `version`, which became current · not_merged: its round's candidate was rejected
   * by the gate or went stale (`reason`) · expired: the lease ran out without a commit.
   */
  state: z.enum(['leased', 'committed', 'merged', 'not_merged', 'expired']),
  version: z.number().int().optional(),
  reason: z.string().optional(),
  metrics: z.record(z.string(), z.union([z.number(), z.boolean()])).optional(),
});
export type ContributionStatus = z.infer<typeof ContributionStatusSchema>;

export const HistoryPageSchema = z.object({
  entries: z.array(HistoryEntrySchema.extend({ seq: z.number().int() })),
  /** Pass as `before` for the next (older) page; null at the start of the history. */
  next: z.number().int().nullable(),
});

export const RoundStatusSchema = z.object({
  pair: z.string(),
  round: z.number().int(),
  /** gating: the candidate is being measured against its base (docs/gate.md). */
  state: z.enum(['idle', 'open', 'aggregating', 'gating']),
  baseVersion: z.number().int().nullable(),
  position: z.number().int(),
  deadline: z.number().int().nullable(),
  leases: z.number().int(),
  /** Distinct contributors who committed (what the quorum counts). */
  committed: z.number().int(),
  /** The open round's learning-rate schedule and why (continuing the pair's own, or fine-tuning). */
  schedule: z.object({ kind: z.enum(['continue', 'fine-tune', 'fresh']), why: z.string(), lr: z.number() }).nullable(),
  /** Leases handed out and neither committed nor expired: the round waits for them. */
  outstanding: z.number().int(),
  /** Whether the pair holds validation images for both domains (rounds need them for the gate). */
  validation: z.object({ A: z.number().int(), B: z.number().int() }),
  config: RoundConfigSchema,
  /** The latest history entries, newest last (page the rest with GET …/round/history). */
  history: z.array(HistoryEntrySchema),
  /** The latest refused uploads and commits. */
  rejections: z.array(RejectionSchema),
});
export type RoundStatus = z.infer<typeof RoundStatusSchema>;

export const roundPaths = {
  round: (slug: string) => `/api/pairs/${encodeURIComponent(slug)}/round`,
  config: (slug: string) => `/api/pairs/${encodeURIComponent(slug)}/round/config`,
  leases: (slug: string) => `/api/pairs/${encodeURIComponent(slug)}/round/leases`,
  delta: (slug: string, lease: string, net: string, index: number) =>
    `/api/pairs/${encodeURIComponent(slug)}/round/leases/${lease}/deltas/${net}/${index}`,
  commit: (slug: string, lease: string) => `/api/pairs/${encodeURIComponent(slug)}/round/leases/${lease}/commit`,
  contribution: (slug: string, lease: string) => `/api/pairs/${encodeURIComponent(slug)}/round/leases/${lease}`,
  history: (slug: string) => `/api/pairs/${encodeURIComponent(slug)}/round/history`,
};
