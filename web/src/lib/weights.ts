/**
 * Weight shards for the browser: fetched once, then kept in the Cache Storage API keyed by
 * their SHA-256, so a second visit (or another pair sharing a shard) downloads no weight bytes.
 * Shards are immutable and content-addressed, so a cached shard never goes stale.
 */
import type { GeneratorName, NetworkName } from '../../../shared/model/config.ts';
import type { StudentConfig } from '../../../shared/model/student-config.ts';
import type { CheckpointManifest, WeightGroup } from '../../../shared/weights/format.ts';
import { sha256Hex } from '../../../shared/weights/sha256.ts';

const CACHE_NAME = 'stripes-shards-v1';
/** The cache key is the hash alone, whatever server or path the bytes came from. */
const cacheKey = (hash: string) => new Request(`https://shards.stripes.invalid/${hash}`);

export interface ShardProgress {
  loadedBytes: number;
  totalBytes: number;
  networkBytes: number;
}

export interface GroupChoice {
  variant: 'float16' | 'float32';
  group: WeightGroup;
}

/** Whether a version carries a distilled student (`variants.fast`) for this generator. */
export function hasFast(manifest: CheckpointManifest, net: GeneratorName): boolean {
  return manifest.variants?.fast?.groups[net] !== undefined;
}

export { defaultQuality } from './quality.ts';

/** The student's group and config for a generator, or null when the version has none. */
export function fastGroupToFetch(manifest: CheckpointManifest, net: GeneratorName): { group: WeightGroup; config: StudentConfig } | null {
  const fast = manifest.variants?.fast;
  const group = fast?.groups[net];
  return fast && group ? { group, config: fast.config } : null;
}

/** The group to download for a network: the float16 copy where the manifest offers one. */
export function groupToFetch(manifest: CheckpointManifest, net: NetworkName): GroupChoice {
  const f16 = manifest.variants?.float16?.[net];
  if (f16) return { variant: 'float16', group: f16 };
  const f32 = manifest.groups[net];
  if (!f32) throw new Error(`this version has no weights for ${net}`);
  return { variant: 'float32', group: f32 };
}

async function readWithProgress(res: Response, onChunk: (n: number) => void): Promise<Uint8Array> {
  if (!res.body) {
    const buf = new Uint8Array(await res.arrayBuffer());
    onChunk(buf.byteLength);
    return buf;
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    length += value.byteLength;
    onChunk(value.byteLength);
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * A shard fetcher for one group download: `fetchShard(hash)` answers from the cache or the
 * network, checks the bytes against the hash before caching them, and reports progress.
 */
export async function shardFetcher(shardBase: string, group: WeightGroup, onProgress: (p: ShardProgress) => void) {
  const cache = await caches.open(CACHE_NAME);
  const sizes = new Map(group.paths.map((p, i) => [p, group.sizes[i]]));
  const totalBytes = group.sizes.reduce((a, b) => a + b, 0);
  const stats = { loadedBytes: 0, totalBytes, networkBytes: 0, shardsFetched: 0, shardsCached: 0 };
  const report = () => onProgress({ loadedBytes: stats.loadedBytes, totalBytes, networkBytes: stats.networkBytes });

  async function fetchShard(hash: string): Promise<Uint8Array> {
    const want = sizes.get(hash);
    const hit = await cache.match(cacheKey(hash));
    if (hit) {
      const bytes = new Uint8Array(await hit.arrayBuffer());
      if (bytes.byteLength === want && (await sha256Hex(bytes)) === hash) {
        stats.loadedBytes += bytes.byteLength;
        stats.shardsCached++;
        report();
        return bytes;
      }
      // A damaged entry (storage trouble): drop it and fetch afresh.
      await cache.delete(cacheKey(hash));
    }
    const res = await fetch(shardBase + hash);
    if (!res.ok) throw new Error(`weight shard ${hash.slice(0, 12)}… could not be downloaded (HTTP ${res.status})`);
    const bytes = await readWithProgress(res, (n) => {
      stats.loadedBytes += n;
      stats.networkBytes += n;
      report();
    });
    if (want !== undefined && bytes.byteLength !== want)
      throw new Error(`weight shard ${hash.slice(0, 12)}… has ${bytes.byteLength} bytes, the manifest says ${want}`);
    if ((await sha256Hex(bytes)) !== hash) throw new Error(`weight shard ${hash.slice(0, 12)}… does not match its hash`);
    await cache.put(
      cacheKey(hash),
      new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/octet-stream' } }),
    );
    stats.shardsFetched++;
    return bytes;
  }
  return { fetchShard, stats };
}
