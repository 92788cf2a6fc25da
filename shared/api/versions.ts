/**
 * Versions and publishing: a version is declared with its manifest (pending), its shards are
 * PUT by hash, then it is committed and becomes the pair's current version.
 */
import { z } from 'zod';
import type { CheckpointManifest } from '../weights/format.ts';

export const Sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex SHA-256 (64 characters)');

/** The body of a declaration; the manifest itself is checked by shared/weights/manifest.ts. */
export const VersionDeclareSchema = z.strictObject({
  manifest: z.record(z.string(), z.unknown()),
});

export const VersionStateSchema = z.enum(['pending', 'committed']);

/** Who made a version: its owner's publish, a community round's aggregate, or a fork's copy. */
export const VersionSourceSchema = z.enum(['owner', 'round', 'fork']);
export type VersionSource = z.infer<typeof VersionSourceSchema>;

/**
 * The quality gate's record on a round's version (docs/gate.md): measured against `base` on the
 * pair's validation images. 'pending' while it is being measured, 'passed' (it became current),
 * 'rejected' (it did not; `reasons` say why), 'stale' (it passed, but `current` had moved on
 * meanwhile, e.g. the owner published, so it was not made current).
 */
export const GateRecordSchema = z.object({
  status: z.enum(['pending', 'passed', 'rejected', 'stale']),
  base: z.number().int(),
  metrics: z.record(z.string(), z.union([z.number(), z.boolean()])).optional(),
  baseMetrics: z.record(z.string(), z.union([z.number(), z.boolean()])).optional(),
  reasons: z.array(z.string()).optional(),
  contributors: z.number().int().optional(),
  decidedAt: z.number().int().optional(),
});
export type GateRecord = z.infer<typeof GateRecordSchema>;

export const VersionSchema = z.object({
  slug: z.string(),
  number: z.number().int().positive(),
  state: VersionStateSchema,
  createdAt: z.string(),
  committedAt: z.string().nullable(),
  source: VersionSourceSchema,
  round: z.number().int().nullable(),
  gate: GateRecordSchema.nullable(),
  manifest: z.record(z.string(), z.unknown()),
});
export type Version = Omit<z.infer<typeof VersionSchema>, 'manifest'> & { manifest: CheckpointManifest };

export const ShardStatusSchema = z.object({
  hash: Sha256Schema,
  size: z.number().int().positive(),
  present: z.boolean(),
});

export const VersionDeclaredSchema = z.object({
  slug: z.string(),
  number: z.number().int().positive(),
  state: z.literal('pending'),
  shards: z.array(ShardStatusSchema),
});
export type VersionDeclared = z.infer<typeof VersionDeclaredSchema>;

export const VersionSummarySchema = z.object({
  number: z.number().int(),
  committedAt: z.string(),
  source: VersionSourceSchema,
  round: z.number().int().nullable(),
  gate: GateRecordSchema.nullable(),
  /** True for the pair's current version. */
  current: z.boolean(),
});
export type VersionSummary = z.infer<typeof VersionSummarySchema>;

export const VersionListSchema = z.object({
  versions: z.array(VersionSummarySchema),
});

/** The owner points `current` back (or forward) at a committed version; no bytes are copied. */
export const RollbackSchema = z.strictObject({
  version: z.number().int().positive(),
});

export const ShardPutSchema = z.object({
  hash: Sha256Schema,
  size: z.number().int().positive(),
  /** False when the shard was already stored: uploading twice is harmless. */
  created: z.boolean(),
});
/** Shard uploads may carry at most this many bytes (a shard is at most 4 MiB; the slack covers nothing else but keeps the check simple). */
export const SHARD_BODY_LIMIT = 4 * 1024 * 1024 + 64 * 1024;
