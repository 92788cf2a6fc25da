/**
 * The Stripes checkpoint format: what a version of a pair is, on disk, in R2 and on the wire.
 *
 * A checkpoint is a manifest (this JSON) plus immutable, content-addressed shards. Like TF.js's
 * `weightsManifest`, each weight group lists its shard paths and its tensors in order; the
 * group's bytes are its tensors' bytes concatenated (little-endian) and cut into shards of at
 * most `MAX_SHARD_BYTES`, so a tensor may span shards. A shard's path is the lowercase hex
 * SHA-256 of its bytes, which is what makes it cacheable forever and safe to upload twice.
 *
 * Groups are the four networks (`G_AB`, `G_BA`, `D_A`, `D_B`; see shared/model/config.ts).
 * The float32 groups are the master; `variants.float16` may hold half-size copies of some
 * groups for download, never for training or aggregation; `variants.fast` may hold a compact
 * student generator distilled from them (its own config, float16 groups).
 *
 * Tensor names are the reference PyTorch state_dict keys, shapes are in Stripes layout
 * (shared/model/param-specs.ts).
 */
import type { ModelConfig, NetworkName } from '../model/config.ts';
import type { FastVariant } from './fast-variant.ts';

export const CHECKPOINT_FORMAT = 'stripes-checkpoint';
export const CHECKPOINT_VERSION = 1;
/** Shards are at most 4 MiB: small enough for one Worker request and one R2 put each. */
export const MAX_SHARD_BYTES = 4 * 1024 * 1024;

export type WeightDtype = 'float32' | 'float16';

export const BYTES_PER_ELEMENT: Record<WeightDtype, number> = { float32: 4, float16: 2 };

export interface WeightEntry {
  name: string;
  shape: number[];
  dtype: WeightDtype;
}

export interface WeightGroup {
  /** Shard names: lowercase hex SHA-256 of each shard's bytes, in order. */
  paths: string[];
  /** Byte length of each shard, in the order of `paths`. */
  sizes: number[];
  weights: WeightEntry[];
}

export interface CheckpointManifest {
  format: typeof CHECKPOINT_FORMAT;
  version: typeof CHECKPOINT_VERSION;
  config: ModelConfig;
  /** The float32 master of each network present (a translate-only checkpoint may hold only generators). */
  groups: Partial<Record<NetworkName, WeightGroup>>;
  /** Smaller download copies; float32 groups stay the source of truth. */
  variants?: {
    float16?: Partial<Record<NetworkName, WeightGroup>>;
    /** A distilled student generator per direction, with its own config (shared/weights/fast-variant.ts). */
    fast?: FastVariant;
  };
  /**
   * Free-form provenance: where it came from, iterations trained, etc. Fields a community round
   * reads (shared/rounds/schedule.ts `roundScheduleFor`, docs/rounds.md):
   *   schedule: { lr, constantSteps, decaySteps, position }   the lr schedule in steps (constant,
   *     then linear decay to 0) and the steps already trained on it. Written by `stripes train`
   *     (its run), `stripes push` (from iterations/totalIterations when only those are there) and
   *     each round's version (the base's position + the round's inner steps K).
   *   iterations, totalIterations   `stripes train`'s iterations done and planned (older
   *     checkpoints have only these: lr 2e-4, ⌈T/2⌉ constant, ⌊T/2⌋ decaying).
   *   converged: true   trained to the end of a schedule we do not know (import-torch).
   *   placeholder: true   untrained weights (scripts/seed.ts): rounds start the config's schedule.
   * Without any of these a round fine-tunes (unknown provenance).
   */
  meta?: Record<string, unknown>;
}
