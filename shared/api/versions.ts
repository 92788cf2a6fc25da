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

export const VersionSchema = z.object({
  slug: z.string(),
  number: z.number().int().positive(),
  state: VersionStateSchema,
  createdAt: z.string(),
  committedAt: z.string().nullable(),
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

export const VersionListSchema = z.object({
  versions: z.array(z.object({ number: z.number().int(), committedAt: z.string() })),
});

export const ShardPutSchema = z.object({
  hash: Sha256Schema,
  size: z.number().int().positive(),
  /** False when the shard was already stored: uploading twice is harmless. */
  created: z.boolean(),
});
/** Shard uploads may carry at most this many bytes (a shard is at most 4 MiB; the slack covers nothing else but keeps the check simple). */
export const SHARD_BODY_LIMIT = 4 * 1024 * 1024 + 64 * 1024;
