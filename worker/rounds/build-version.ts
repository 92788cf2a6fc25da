/**
 * Turning a closed round into the pair's next version, shard by shard:
 *
 *   for each network, for each float32 shard of the base:
 *     aggregated delta of that range  (aggregate.ts, reading contributors' float16 shards by range)
 *     outer Nesterov step             (outer-optimizer.ts, with the momentum shard of that range)
 *     → a new float32 shard, a new momentum shard, and the float16 download copy where the base had one
 *
 * Everything written is content-addressed and the inputs are fixed (the base, its momentum, the
 * frozen list of contributions in lease order), so running this twice writes the same bytes
 * under the same names and returns the same manifest: a crash at any point is retried by
 * running it again. Peak memory: the base, momentum and output shards of one range, a float16
 * shard being assembled, and the aggregator's buffers (bounded by `budgetBytes`), whatever the
 * number of contributors.
 */
import { NETWORKS, type NetworkName } from '../../shared/model/config.ts';
import { aggregateStream, chunkElements, type ContributionInfo, MemoryMeter } from '../../shared/rounds/aggregate.ts';
import { DELTA_BYTES_PER_ELEMENT, shardRanges, widenFloat16Into } from '../../shared/rounds/delta.ts';
import { outerSettingsFor, outerStep } from '../../shared/rounds/outer-optimizer.ts';
import type { RoundConfig } from '../../shared/rounds/protocol.ts';
import { clipBound } from '../../shared/rounds/validate.ts';
import { float32ToFloat16 } from '../../shared/weights/float16.ts';
import { CHECKPOINT_FORMAT, CHECKPOINT_VERSION, MAX_SHARD_BYTES, type CheckpointManifest, type WeightGroup } from '../../shared/weights/format.ts';
import { sha256Hex } from '../../shared/weights/sha256.ts';
import type { Blobs } from './blobs.ts';

/** Momentum shards per network, float32, cut like the network's float32 group. */
export type MomentumIndex = Partial<Record<NetworkName, { paths: string[]; sizes: number[] }>>;

export interface RoundContribution {
  samples: number;
  /** ‖δ‖ per network as the server measured it. */
  norms: Record<NetworkName, number>;
  shards: Record<NetworkName, string[]>;
}

export interface BuildInput {
  /** Where the base and momentum shards are read and the new version's shards written. */
  blobs: Blobs;
  /** Where the contributions' delta shards are read (default: `blobs`). */
  deltas?: Blobs;
  base: CheckpointManifest;
  momentum: MomentumIndex | null;
  contributions: RoundContribution[];
  config: RoundConfig;
  meta: Record<string, unknown>;
  /** Bytes the aggregator may hold for contributors' slices (trimmed mean needs all at once). */
  budgetBytes?: number;
  maxShardBytes?: number;
  /** Called after every shard write; tests throw from it to simulate a crash. */
  afterWrite?: () => void;
  meter?: MemoryMeter;
}

export interface BuildOutput {
  manifest: CheckpointManifest;
  momentum: MomentumIndex;
}

const DEFAULT_BUDGET = 16 * 1024 * 1024;

/** The outer step produced NaN or ±Inf: such a version must never be written (nor its float16 copy). */
export class NonFiniteAggregate extends Error {
  override name = 'NonFiniteAggregate';
}

function largestDivisorAtMost(n: number, max: number): number {
  let c = Math.max(1, Math.min(n, max));
  while (n % c !== 0) c--;
  return c;
}

function asFloat32(bytes: Uint8Array): Float32Array {
  const b = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

/** What one network contributes to the next version: its float32 group, momentum and float16 copy. */
export interface NetworkPart {
  group: WeightGroup;
  momentum: { paths: string[]; sizes: number[] };
  float16?: WeightGroup;
}
export type NetworkParts = Partial<Record<NetworkName, NetworkPart>>;

/** The whole next version in one go (tests, the benchmark, small pairs). */
export async function buildVersion(input: BuildInput): Promise<BuildOutput> {
  return assembleVersion(input.base, await buildNetworks(input, NETWORKS), input.meta);
}

/**
 * The next version's manifest from its networks' parts, in the format's network order whatever
 * order they were built in, so building a network per alarm gives the same manifest.
 */
export function assembleVersion(base: CheckpointManifest, parts: NetworkParts, meta: Record<string, unknown>): BuildOutput {
  const groups: CheckpointManifest['groups'] = {};
  const f16groups: CheckpointManifest['groups'] = {};
  const momentum: MomentumIndex = {};
  for (const net of NETWORKS) {
    if (!base.groups[net]) continue;
    const part = parts[net];
    if (!part) throw new Error(`assembleVersion: ${net} has not been built`);
    groups[net] = part.group;
    momentum[net] = part.momentum;
    if (part.float16) f16groups[net] = part.float16;
  }
  const manifest: CheckpointManifest = { format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, config: base.config, groups };
  if (Object.keys(f16groups).length) manifest.variants = { float16: f16groups };
  manifest.meta = meta;
  return { manifest, momentum };
}

/** Builds the listed networks of the next version (those the base holds). */
export async function buildNetworks(input: BuildInput, nets: readonly NetworkName[]): Promise<NetworkParts> {
  const { blobs, base, config } = input;
  const deltaBlobs = input.deltas ?? blobs;
  const maxShard = input.maxShardBytes ?? MAX_SHARD_BYTES;
  const meter = input.meter ?? new MemoryMeter();
  const n = input.contributions.length;
  if (n === 0) throw new RangeError('buildVersion: no contributions');

  const write = async (bytes: Uint8Array): Promise<string> => {
    const hash = await sha256Hex(bytes);
    await blobs.put(hash, bytes);
    input.afterWrite?.();
    return hash;
  };

  const parts: NetworkParts = {};
  for (const net of nets) {
    const group = base.groups[net];
    if (!group) continue;
    const length = group.sizes.reduce((a, b) => a + b, 0) / 4;
    // The new version and the momentum are cut like the base (the format's 4 MiB, or whatever
    // the base was written with); float16 deltas and copies are cut at `maxShard`.
    const shardElements = group.sizes[0] / 4;
    if (group.sizes.some((s, i) => i < group.sizes.length - 1 && s !== group.sizes[0]))
      throw new Error(`${net}: the base's shards are not cut evenly (${group.sizes.join(', ')})`);
    const settings = outerSettingsFor(config.outer, net);
    const momentum = input.momentum?.[net];
    const wantF16 = base.variants?.float16?.[net] !== undefined;

    const infos: ContributionInfo[] = input.contributions.map((c) => ({ samples: c.samples, norm: c.norms[net] }));
    const clip = config.aggregation.mode === 'centred-clip' ? Infinity : clipBound(infos.map((i) => i.norm), config.aggregation.clipMultiple);
    const desired = chunkElements(config.aggregation.mode, n, shardElements, input.budgetBytes ?? DEFAULT_BUDGET);
    // Slices never straddle a float32 shard: the chunk divides the shard length.
    const chunk = largestDivisorAtMost(shardElements, desired);

    const readF16 = async (hashes: string[], start: number, count: number): Promise<Float32Array> => {
      const out = new Float32Array(count);
      let o = 0;
      for (const r of shardRanges(start, count, DELTA_BYTES_PER_ELEMENT, maxShard)) {
        widenFloat16Into(await deltaBlobs.get(hashes[r.shard], { offset: r.offset, length: r.length }), out, o);
        o += r.length / DELTA_BYTES_PER_ELEMENT;
      }
      return out;
    };
    const readF32 = async (paths: string[], start: number, count: number): Promise<Float32Array> => {
      const out = new Float32Array(count);
      let o = 0;
      for (const r of shardRanges(start, count, 4, shardElements * 4)) {
        out.set(asFloat32(await blobs.get(paths[r.shard], { offset: r.offset, length: r.length })), o);
        o += r.length / 4;
      }
      return out;
    };

    // Centred clipping centres on the outer momentum turned back into delta units: b is a
    // μ-discounted sum of past pseudo-gradients (−Δ̄), so −(1 − μ)·b is their running mean.
    const readCentre =
      config.aggregation.mode === 'centred-clip' && momentum
        ? async (start: number, count: number) => {
            const b = await readF32(momentum.paths, start, count);
            for (let j = 0; j < count; j++) b[j] *= -(1 - settings.momentum);
            return b;
          }
        : undefined;

    const outGroup: WeightGroup = { paths: [], sizes: [], weights: group.weights.map((w) => ({ ...w, shape: [...w.shape] })) };
    const momGroup = { paths: [] as string[], sizes: [] as number[] };
    const f16Group: WeightGroup = { paths: [], sizes: [], weights: group.weights.map((w) => ({ ...w, shape: [...w.shape], dtype: 'float16' as const })) };
    let f16Pending: Uint8Array[] = [];
    let f16PendingBytes = 0;

    let current = -1;
    let params: Float32Array | null = null;
    let mom: Float32Array | null = null;

    const flushF16 = async (final: boolean) => {
      while (f16PendingBytes >= maxShard || (final && f16PendingBytes > 0)) {
        const size = Math.min(maxShard, f16PendingBytes);
        const shard = new Uint8Array(size);
        let o = 0;
        while (o < size) {
          const head = f16Pending[0];
          const take = Math.min(head.byteLength, size - o);
          shard.set(head.subarray(0, take), o);
          o += take;
          if (take === head.byteLength) f16Pending.shift();
          else f16Pending[0] = head.subarray(take);
        }
        f16PendingBytes -= size;
        f16Group.paths.push(await write(shard));
        f16Group.sizes.push(size);
      }
    };
    const flush = async () => {
      if (!params || !mom) return;
      for (let i = 0; i < params.length; i++)
        if (!Number.isFinite(params[i]) || !Number.isFinite(mom[i]))
          throw new NonFiniteAggregate(`${net}: the aggregated step made value ${current * shardElements + i} ${params[i]} (outer momentum ${mom[i]})`);
      const pBytes = new Uint8Array(params.buffer, params.byteOffset, params.byteLength);
      outGroup.paths.push(await write(pBytes));
      outGroup.sizes.push(pBytes.byteLength);
      const mBytes = new Uint8Array(mom.buffer, mom.byteOffset, mom.byteLength);
      momGroup.paths.push(await write(mBytes));
      momGroup.sizes.push(mBytes.byteLength);
      if (wantF16) {
        const half = float32ToFloat16(params);
        f16Pending.push(new Uint8Array(half.buffer));
        f16PendingBytes += half.byteLength;
        await flushF16(false);
      }
      meter.release(params.byteLength + mom.byteLength);
      params = mom = null;
    };
    const load = async (shard: number) => {
      params = asFloat32(await blobs.get(group.paths[shard])).slice();
      mom = momentum ? asFloat32(await blobs.get(momentum.paths[shard])).slice() : new Float32Array(params.length);
      if (mom.length !== params.length) throw new Error(`${net}: momentum shard ${shard} has ${mom.length} values, the base ${params.length}`);
      meter.hold(params.byteLength + mom.byteLength);
      current = shard;
    };

    await aggregateStream(
      length,
      infos,
      (i, start, count) => readF16(input.contributions[i].shards[net], start, count),
      { mode: config.aggregation.mode, clip, trimFraction: config.aggregation.trimFraction, readCentre, chunk, meter },
      async (start, delta) => {
        const shard = Math.floor(start / shardElements);
        if (shard !== current) {
          await flush();
          await load(shard);
        }
        const off = start - shard * shardElements;
        outerStep(params!.subarray(off, off + delta.length), mom!.subarray(off, off + delta.length), delta, settings);
      },
    );
    await flush();
    await flushF16(true);
    f16Pending = [];
    if (outGroup.paths.length !== group.paths.length) throw new Error(`${net}: wrote ${outGroup.paths.length} shards for a base of ${group.paths.length}`);
    parts[net] = { group: outGroup, momentum: momGroup, ...(wantF16 ? { float16: f16Group } : {}) };
  }
  return parts;
}
