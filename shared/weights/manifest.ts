/**
 * Validation of checkpoint manifests at every boundary (CLI reading a folder, worker accepting
 * an upload, browser reading a version). Errors name the field and what was expected.
 */
import { NETWORKS, type NetworkName, validateModelConfig } from '../model/config.ts';
import { discriminatorParamSpecs, generatorParamSpecs, type ParamSpec } from '../model/param-specs.ts';
import {
  BYTES_PER_ELEMENT,
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  MAX_SHARD_BYTES,
  type CheckpointManifest,
  type WeightGroup,
} from './format.ts';
import { validateFastVariant } from './fast-variant.ts';

export class ManifestError extends Error {
  override name = 'ManifestError';
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * A value as an error message shows it: primitives and short flat lists as JSON (cut at 80
 * characters), anything nested only by its kind. Never JSON.stringify of untrusted nesting: a
 * list nested 100,000 deep would overflow the stack.
 */
function preview(v: unknown): string {
  if (v === null || typeof v !== 'object') {
    const s = JSON.stringify(v) ?? String(v);
    return s.length > 80 ? `${s.slice(0, 77)}…` : s;
  }
  if (Array.isArray(v) && v.length <= 16 && v.every((x) => x === null || typeof x !== 'object')) {
    const s = `[${v.map(preview).join(',')}]`;
    return s.length > 80 ? `${s.slice(0, 77)}…` : s;
  }
  return Array.isArray(v) ? `a list of ${v.length}` : 'an object';
}

export function isShardName(s: unknown): s is string {
  return typeof s === 'string' && SHA256_HEX.test(s);
}

/** The parameters a network of this config must hold, in order. */
export function specsFor(net: NetworkName, config: CheckpointManifest['config']): ParamSpec[] {
  return net.startsWith('G') ? generatorParamSpecs(config.generator) : discriminatorParamSpecs(config.discriminator);
}

/** Total bytes of a group's tensors, which its shards must add up to. */
export function groupByteLength(group: WeightGroup): number {
  return group.weights.reduce(
    (s, w) => s + w.shape.reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[w.dtype],
    0,
  );
}

export function validateGroup(where: string, g: unknown, specs: ParamSpec[], dtype: 'float32' | 'float16'): WeightGroup {
  const fail = (msg: string): never => {
    throw new ManifestError(`${where}: ${msg}`);
  };
  if (typeof g !== 'object' || g === null) fail('must be an object with paths, sizes and weights');
  const group = g as Record<string, unknown>;
  if (!Array.isArray(group.paths) || group.paths.length === 0) fail('paths must be a non-empty list of shard names');
  const paths = group.paths as unknown[];
  paths.forEach((p, i) => {
    if (!isShardName(p)) fail(`paths[${i}] must be a lowercase hex SHA-256 (64 characters), got ${preview(p)}`);
  });
  if (!Array.isArray(group.sizes) || group.sizes.length !== paths.length)
    fail(`sizes must list one byte length per path (${paths.length})`);
  const sizes = group.sizes as unknown[];
  sizes.forEach((s, i) => {
    if (!Number.isInteger(s) || (s as number) <= 0 || (s as number) > MAX_SHARD_BYTES)
      fail(`sizes[${i}] must be an integer in 1..${MAX_SHARD_BYTES}, got ${preview(s)}`);
  });
  if (!Array.isArray(group.weights)) fail('weights must be a list');
  const weights = group.weights as Array<Record<string, unknown>>;
  const names = weights.map((w) => (w && typeof w === 'object' ? w.name : undefined));
  const expected = specs.map((s) => s.name);
  const missing = expected.filter((n) => !names.includes(n));
  const extra = names.filter((n) => typeof n !== 'string' || !expected.includes(n));
  if (missing.length || extra.length || names.length !== expected.length) {
    const parts = [];
    if (missing.length) parts.push(`missing ${missing.join(', ')}`);
    if (extra.length) parts.push(`unexpected ${extra.map((n) => preview(n)).join(', ')}`);
    if (!parts.length) parts.push('duplicate names');
    fail(`weights do not match the config: ${parts.join('; ')} (expected ${expected.length} tensors: ${expected.join(', ')})`);
  }
  weights.forEach((w, i) => {
    const spec = specs[i];
    if (w.name !== spec.name) fail(`weights[${i}] must be "${spec.name}" (the reference order), got "${w.name}"`);
    if (!Array.isArray(w.shape) || w.shape.length !== spec.shape.length || w.shape.some((d, j) => d !== spec.shape[j]))
      fail(`weight "${spec.name}" has shape ${preview(w.shape)}, expected [${spec.shape}]`);
    if (w.dtype !== dtype) fail(`weight "${spec.name}" has dtype ${preview(w.dtype)}, expected ${dtype}`);
  });
  const out: WeightGroup = {
    paths: paths as string[],
    sizes: sizes as number[],
    weights: specs.map((s) => ({ name: s.name, shape: [...s.shape], dtype })),
  };
  const total = (sizes as number[]).reduce((a, b) => a + b, 0);
  const want = groupByteLength(out);
  if (total !== want) fail(`shard sizes add up to ${total} bytes but the weights need ${want}`);
  return out;
}

/** How deep `meta` may nest (meta itself is level 1) and how large its JSON may be. */
export const MAX_META_DEPTH = 8;
export const MAX_META_BYTES = 16 * 1024;

/**
 * Why `meta` is refused (too deep, too large, or not plain JSON), or null. Walks with an explicit
 * stack, never recursion, and stops at the first level too deep or the first byte too many, so a
 * hostile meta (10,000 levels, a million keys) costs at most the bound's worth of work. Once it
 * passes, JSON.stringify of it is safe.
 */
export function metaProblem(meta: object): string | null {
  const stack: Array<{ value: unknown; depth: number; path: string }> = [{ value: meta, depth: 1, path: 'meta' }];
  let bytes = 0;
  const tooLarge = () => `meta is larger than ${MAX_META_BYTES} bytes of JSON`;
  while (stack.length) {
    const { value, depth, path } = stack.pop()!;
    if (value === null || typeof value === 'boolean') bytes += 5;
    else if (typeof value === 'number') {
      if (!Number.isFinite(value)) return `${path} must be a finite number`;
      bytes += String(value).length;
    } else if (typeof value === 'string') bytes += value.length + 2;
    else if (typeof value === 'object') {
      if (depth > MAX_META_DEPTH) return `${path} nests deeper than ${MAX_META_DEPTH} levels (meta may nest at most ${MAX_META_DEPTH} deep)`;
      bytes += 2;
      if (Array.isArray(value)) {
        for (let i = value.length - 1; i >= 0 && bytes <= MAX_META_BYTES; i--) {
          bytes += 1;
          stack.push({ value: value[i], depth: depth + 1, path: `${path}[${i}]` });
        }
      } else {
        for (const key of Object.keys(value)) {
          bytes += key.length + 4;
          if (bytes > MAX_META_BYTES) break;
          stack.push({ value: (value as Record<string, unknown>)[key], depth: depth + 1, path: `${path}.${key.length > 40 ? key.slice(0, 40) + '…' : key}` });
        }
      }
    } else return `${path} must be JSON (got ${typeof value})`;
    if (bytes > MAX_META_BYTES) return tooLarge();
  }
  return null;
}

/** Parses and checks a manifest; returns a normalised copy or throws a ManifestError naming the field. */
export function validateManifest(m: unknown): CheckpointManifest {
  const fail = (msg: string): never => {
    throw new ManifestError(`manifest: ${msg}`);
  };
  if (typeof m !== 'object' || m === null || Array.isArray(m)) fail('must be a JSON object');
  const obj = m as Record<string, any>;
  if (obj.format !== CHECKPOINT_FORMAT) fail(`format must be "${CHECKPOINT_FORMAT}", got ${preview(obj.format)}`);
  if (obj.version !== CHECKPOINT_VERSION)
    fail(`version ${preview(obj.version)} is not supported (this reader knows version ${CHECKPOINT_VERSION})`);
  let config;
  try {
    config = validateModelConfig(obj.config);
  } catch (e) {
    fail((e as Error).message);
  }
  if (typeof obj.groups !== 'object' || obj.groups === null) fail('groups must be an object');
  const groups: CheckpointManifest['groups'] = {};
  for (const key of Object.keys(obj.groups)) {
    if (!(NETWORKS as readonly string[]).includes(key)) fail(`groups has unknown network "${key}" (expected ${NETWORKS.join(', ')})`);
    const net = key as NetworkName;
    groups[net] = validateGroup(`manifest: groups.${net}`, obj.groups[net], specsFor(net, config!), 'float32');
  }
  if (Object.keys(groups).length === 0) fail('groups must hold at least one network');
  const manifest: CheckpointManifest = { format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, config: config!, groups };
  if (obj.variants !== undefined) {
    if (typeof obj.variants !== 'object' || obj.variants === null) fail('variants must be an object');
    for (const k of Object.keys(obj.variants))
      if (k !== 'float16' && k !== 'fast') fail(`variants has unknown variant "${k}" (expected float16, fast)`);
    if (obj.variants.float16 !== undefined) {
      const f16: CheckpointManifest['groups'] = {};
      for (const key of Object.keys(obj.variants.float16)) {
        if (!(key in groups)) fail(`variants.float16.${key} has no float32 master in groups`);
        const net = key as NetworkName;
        f16[net] = validateGroup(`manifest: variants.float16.${net}`, obj.variants.float16[net], specsFor(net, config!), 'float16');
      }
      manifest.variants = { float16: f16 };
    }
    if (obj.variants.fast !== undefined)
      (manifest.variants ??= {}).fast = validateFastVariant(obj.variants.fast, (net) => net in groups, validateGroup, (msg) => fail(msg));
  }
  if (obj.meta !== undefined) {
    if (typeof obj.meta !== 'object' || obj.meta === null || Array.isArray(obj.meta)) fail('meta must be an object');
    const problem = metaProblem(obj.meta);
    if (problem) fail(problem);
    manifest.meta = obj.meta;
  }
  return manifest;
}

/** Every shard a manifest names (masters and variants), each once. */
export function allShards(m: CheckpointManifest): Array<{ hash: string; size: number }> {
  const seen = new Map<string, number>();
  const groups = [...Object.values(m.groups), ...Object.values(m.variants?.float16 ?? {}), ...Object.values(m.variants?.fast?.groups ?? {})];
  for (const g of groups) g!.paths.forEach((p, i) => seen.set(p, g!.sizes[i]));
  return [...seen].map(([hash, size]) => ({ hash, size }));
}
