/**
 * Encoding networks into a checkpoint (manifest + content-addressed shards) and decoding one
 * group back, as shared/weights/format.ts describes. Runs unchanged in Node, Workers and
 * browsers: only WebCrypto and typed arrays.
 *
 * Like tfjs-core's `io/weights_loader.ts`, the decoder takes the fetch function as a parameter
 * and fetches only the shards of the group it is asked for, so translating A→B never downloads
 * G_BA or the discriminators.
 */
import { GENERATORS, NETWORKS, type GeneratorName, type ModelConfig, type NetworkName, validateModelConfig } from '../model/config.ts';
import type { ParamSpec } from '../model/param-specs.ts';
import { studentParamSpecs, validateStudentConfig, type StudentConfig } from '../model/student-config.ts';
import type { FastVariant } from './fast-variant.ts';
import { float16ToFloat32, float32ToFloat16 } from './float16.ts';
import {
  BYTES_PER_ELEMENT,
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  MAX_SHARD_BYTES,
  type CheckpointManifest,
  type WeightDtype,
  type WeightGroup,
} from './format.ts';
import { specsFor, validateManifest } from './manifest.ts';
import { sha256Hex } from './sha256.ts';

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** Parameters of one network by state_dict key, each flat in Stripes layout. */
export type NetworkParams = Record<string, Float32Array>;

export interface EncodedCheckpoint {
  manifest: CheckpointManifest;
  /** Shard bytes by their SHA-256 hex name; identical shards appear once. */
  shards: Map<string, Uint8Array>;
}

export interface EncodeOptions {
  /** Networks that also get a float16 download copy; by default the generators present. */
  float16Variants?: NetworkName[];
  meta?: Record<string, unknown>;
  /** Only for tests that need tensors spanning shard boundaries without megabytes of weights. */
  maxShardBytes?: number;
}

// Shards are the typed arrays' own bytes; the format is little-endian, as every JS host is.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new CheckpointError('big-endian hosts are not supported');

function checkParams(net: NetworkName, params: NetworkParams, specs: ParamSpec[]): void {
  const expected = specs.map((s) => s.name);
  const names = Object.keys(params);
  const missing = expected.filter((n) => !(n in params));
  const extra = names.filter((n) => !expected.includes(n));
  if (missing.length || extra.length) {
    const parts = [];
    if (missing.length) parts.push(`missing ${missing.join(', ')}`);
    if (extra.length) parts.push(`unexpected ${extra.join(', ')}`);
    throw new CheckpointError(`${net}: parameters do not match the config: ${parts.join('; ')} (expected ${expected.join(', ')})`);
  }
  for (const s of specs) {
    const want = s.shape.reduce((a, b) => a * b, 1);
    const got = params[s.name];
    if (!(got instanceof Float32Array)) throw new CheckpointError(`${net}: "${s.name}" must be a Float32Array`);
    if (got.length !== want)
      throw new CheckpointError(`${net}: "${s.name}" has ${got.length} values, shape [${s.shape}] needs ${want}`);
  }
}

async function encodeGroup(
  specs: ParamSpec[],
  params: NetworkParams,
  dtype: WeightDtype,
  shards: Map<string, Uint8Array>,
  maxShardBytes: number,
): Promise<WeightGroup> {
  const width = BYTES_PER_ELEMENT[dtype];
  const total = specs.reduce((s, p) => s + params[p.name].length * width, 0);
  const bytes = new Uint8Array(total);
  let off = 0;
  for (const s of specs) {
    const v = params[s.name];
    const src = dtype === 'float32' ? v : float32ToFloat16(v);
    bytes.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength), off);
    off += src.byteLength;
  }
  const paths: string[] = [];
  const sizes: number[] = [];
  for (let start = 0; start < total; start += maxShardBytes) {
    const shard = bytes.subarray(start, Math.min(total, start + maxShardBytes));
    const hash = await sha256Hex(shard);
    shards.set(hash, shard);
    paths.push(hash);
    sizes.push(shard.byteLength);
  }
  return { paths, sizes, weights: specs.map((s) => ({ name: s.name, shape: [...s.shape], dtype })) };
}

/** Builds a manifest and its shards from float32 parameters (Stripes layout, param-spec names). */
export async function encodeCheckpoint(
  config: ModelConfig,
  networks: Partial<Record<NetworkName, NetworkParams>>,
  opts: EncodeOptions = {},
): Promise<EncodedCheckpoint> {
  const cfg = validateModelConfig(config);
  const max = opts.maxShardBytes ?? MAX_SHARD_BYTES;
  if (!Number.isInteger(max) || max <= 0 || max > MAX_SHARD_BYTES || max % 4 !== 0)
    throw new CheckpointError(`maxShardBytes must be a multiple of 4 in 4..${MAX_SHARD_BYTES}, got ${max}`);
  const present = NETWORKS.filter((n) => networks[n] !== undefined);
  if (present.length === 0) throw new CheckpointError('a checkpoint needs at least one network');
  for (const k of Object.keys(networks))
    if (!(NETWORKS as readonly string[]).includes(k)) throw new CheckpointError(`unknown network "${k}" (expected ${NETWORKS.join(', ')})`);
  const variantNets = opts.float16Variants ?? GENERATORS.filter((n) => networks[n] !== undefined);
  for (const n of variantNets)
    if (networks[n] === undefined) throw new CheckpointError(`float16 variant asked for ${n}, which is not in the checkpoint`);

  const shards = new Map<string, Uint8Array>();
  const groups: CheckpointManifest['groups'] = {};
  for (const net of present) {
    const specs = specsFor(net, cfg);
    checkParams(net, networks[net]!, specs);
    groups[net] = await encodeGroup(specs, networks[net]!, 'float32', shards, max);
  }
  const manifest: CheckpointManifest = { format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, config: cfg, groups };
  if (variantNets.length) {
    const f16: CheckpointManifest['groups'] = {};
    for (const net of NETWORKS.filter((n) => variantNets.includes(n)))
      f16[net] = await encodeGroup(specsFor(net, cfg), networks[net]!, 'float16', shards, max);
    manifest.variants = { float16: f16 };
  }
  if (opts.meta) manifest.meta = opts.meta;
  // The same validator every reader runs: what we write, we can read back.
  validateManifest(JSON.parse(JSON.stringify(manifest)));
  return { manifest, shards };
}

/**
 * The float16 groups of a distilled student (`variants.fast`), its shards added to `shards`.
 * Attach the result to a manifest that holds the same generators as teachers.
 */
export async function encodeFastVariant(
  config: StudentConfig,
  networks: Partial<Record<GeneratorName, NetworkParams>>,
  shards: Map<string, Uint8Array>,
  maxShardBytes = MAX_SHARD_BYTES,
): Promise<FastVariant> {
  const cfg = validateStudentConfig(config);
  const specs = studentParamSpecs(cfg);
  const groups: FastVariant['groups'] = {};
  for (const net of GENERATORS) {
    const params = networks[net];
    if (!params) continue;
    checkParams(net, params, specs);
    groups[net] = await encodeGroup(specs, params, 'float16', shards, maxShardBytes);
  }
  if (Object.keys(groups).length === 0) throw new CheckpointError('a fast variant needs at least one generator');
  return { config: cfg, groups };
}

/** Throws naming the shard unless `bytes` are exactly the shard the manifest promises. */
export async function verifyShard(hash: string, size: number, bytes: Uint8Array, where: string): Promise<void> {
  if (bytes.byteLength !== size)
    throw new CheckpointError(`${where}: shard ${hash} has ${bytes.byteLength} bytes, the manifest says ${size}`);
  const got = await sha256Hex(bytes);
  if (got !== hash) throw new CheckpointError(`${where}: shard ${hash} is corrupt (its SHA-256 is ${got})`);
}

export interface DecodeOptions {
  /**
   * Decode the float16 download copy instead of the float32 master, or the distilled student
   * (`fast`: its parameters follow `manifest.variants.fast.config`, see studentParamSpecs).
   */
  variant?: 'float16' | 'fast';
}

/**
 * Fetches, verifies and decodes one network's group into float32 parameters (float16 widened).
 * `manifest` must already be validated (validateManifest).
 */
export async function decodeGroup(
  manifest: CheckpointManifest,
  net: NetworkName,
  fetchShard: (hash: string) => Promise<Uint8Array>,
  opts: DecodeOptions = {},
): Promise<NetworkParams> {
  const table: Partial<Record<NetworkName, WeightGroup>> | undefined =
    opts.variant === 'float16' ? manifest.variants?.float16 : opts.variant === 'fast' ? manifest.variants?.fast?.groups : manifest.groups;
  const group = table?.[net];
  const what = opts.variant ? `${opts.variant} ${net}` : net;
  if (!group) {
    const has = Object.keys(table ?? {});
    throw new CheckpointError(`checkpoint has no ${what} group (it holds ${has.length ? has.join(', ') : 'none'})`);
  }
  const parts = await Promise.all(
    group.paths.map(async (hash, i) => {
      const bytes = await fetchShard(hash);
      await verifyShard(hash, group.sizes[i], bytes, what);
      return bytes;
    }),
  );
  const total = group.sizes.reduce((a, b) => a + b, 0);
  const all = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.byteLength;
  }
  const out: NetworkParams = {};
  off = 0;
  for (const w of group.weights) {
    const count = w.shape.reduce((a, b) => a * b, 1);
    const len = count * BYTES_PER_ELEMENT[w.dtype];
    // slice() copies, so each tensor owns aligned memory and none pins the whole group.
    const raw = all.slice(off, off + len);
    out[w.name] = w.dtype === 'float32' ? new Float32Array(raw.buffer) : float16ToFloat32(new Uint16Array(raw.buffer));
    off += len;
  }
  if (off !== total) throw new CheckpointError(`${what}: shards hold ${total} bytes but the weights use ${off}`);
  return out;
}
