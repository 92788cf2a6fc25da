/**
 * A contribution's payload: per network, the delta `local − base` over the group's tensors
 * concatenated in param-spec order (the checkpoint format's layout), sent as float16 and cut
 * into shards of at most MAX_SHARD_BYTES like any checkpoint group. Both the contributor (to
 * encode) and the worker (to check and to read slices back during aggregation) use this.
 */
import type { ModelConfig, NetworkName } from '../model/config.ts';
import { paramCount } from '../model/param-specs.ts';
import { float16ToFloat32, float32ToFloat16 } from '../weights/float16.ts';
import { MAX_SHARD_BYTES } from '../weights/format.ts';
import { specsFor } from '../weights/manifest.ts';
import { sha256Hex } from '../weights/sha256.ts';

export const DELTA_BYTES_PER_ELEMENT = 2;

/** Values in a network's delta. */
export function networkLength(config: ModelConfig, net: NetworkName): number {
  return paramCount(specsFor(net, config));
}

/** A network's parameters (by state_dict key) flattened in param-spec order. */
export function flattenNetwork(config: ModelConfig, net: NetworkName, params: Record<string, Float32Array>): Float32Array {
  const specs = specsFor(net, config);
  const out = new Float32Array(paramCount(specs));
  let off = 0;
  for (const s of specs) {
    const v = params[s.name];
    const want = s.shape.reduce((a, b) => a * b, 1);
    if (!v || v.length !== want) throw new RangeError(`${net}: "${s.name}" needs ${want} values, got ${v ? v.length : 'none'}`);
    out.set(v, off);
    off += want;
  }
  return out;
}

export function computeDelta(local: Float32Array, base: Float32Array): Float32Array {
  if (local.length !== base.length) throw new RangeError(`delta: local has ${local.length} values, base ${base.length}`);
  const d = new Float32Array(local.length);
  for (let i = 0; i < d.length; i++) d[i] = local[i] - base[i];
  return d;
}

/** Byte sizes of the shards of a float16 delta of `length` values. */
export function deltaShardSizes(length: number, maxShardBytes = MAX_SHARD_BYTES): number[] {
  const total = length * DELTA_BYTES_PER_ELEMENT;
  const sizes: number[] = [];
  for (let s = 0; s < total; s += maxShardBytes) sizes.push(Math.min(maxShardBytes, total - s));
  return sizes;
}

export interface DeltaShard {
  hash: string;
  bytes: Uint8Array;
}

/** Float16-encodes and shards a delta; `norm` is ‖δ‖₂ of the float16 values, what the server will measure. */
export async function encodeDelta(delta: Float32Array, maxShardBytes = MAX_SHARD_BYTES): Promise<{ shards: DeltaShard[]; norm: number }> {
  if (maxShardBytes % DELTA_BYTES_PER_ELEMENT !== 0) throw new RangeError('maxShardBytes must be even');
  const half = float32ToFloat16(delta);
  const bytes = new Uint8Array(half.buffer);
  const shards: DeltaShard[] = [];
  for (let s = 0; s < bytes.byteLength; s += maxShardBytes) {
    const b = bytes.slice(s, Math.min(bytes.byteLength, s + maxShardBytes));
    shards.push({ hash: await sha256Hex(b), bytes: b });
  }
  return { shards, norm: Math.sqrt(decodeDeltaShard(bytes).sumSquares) };
}

/** Widens a float16 shard; `finite` is false if any value is NaN or ±Infinity. */
export function decodeDeltaShard(bytes: Uint8Array): { values: Float32Array; finite: boolean; sumSquares: number } {
  if (bytes.byteLength % DELTA_BYTES_PER_ELEMENT !== 0) throw new RangeError(`a float16 shard has an even byte length, got ${bytes.byteLength}`);
  // Copy when unaligned: Uint16Array needs a 2-byte aligned offset.
  const aligned = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
  const values = float16ToFloat32(new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2));
  let s = 0;
  let finite = true;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      finite = false;
      break;
    }
    s += v * v;
  }
  return { values, finite, sumSquares: finite ? s : NaN };
}

let lut: Float32Array | null = null;

/**
 * Widens float16 bytes into `out` at `offset` through a 65,536-entry table (256 KiB, built once):
 * the aggregation's inner loop, several times faster than converting bit by bit. No finiteness
 * check: uploads were checked on arrival.
 */
export function widenFloat16Into(bytes: Uint8Array, out: Float32Array, offset: number): void {
  if (!lut) lut = float16ToFloat32(Uint16Array.from({ length: 65536 }, (_, i) => i));
  const aligned = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
  const half = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength >> 1);
  const t = lut;
  for (let i = 0; i < half.length; i++) out[offset + i] = t[half[i]];
}

/** The byte ranges of shards that hold values `[start, start + count)` of a sharded group. */
export function shardRanges(
  start: number,
  count: number,
  bytesPerElement: number,
  maxShardBytes = MAX_SHARD_BYTES,
): Array<{ shard: number; offset: number; length: number }> {
  const out = [];
  let b = start * bytesPerElement;
  const end = (start + count) * bytesPerElement;
  while (b < end) {
    const shard = Math.floor(b / maxShardBytes);
    const offset = b - shard * maxShardBytes;
    const length = Math.min(end - b, maxShardBytes - offset);
    out.push({ shard, offset, length });
    b += length;
  }
  return out;
}
