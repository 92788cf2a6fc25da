/**
 * Edge benchmark against local `wrangler dev` (via `npm start` on a free loopback port with a
 * throwaway state folder): shard download throughput and manifest latency under a bounded load
 * (a fixed number of requests, at most 8 in flight), beside reading the same shard bytes from
 * disk as the ceiling. Run: `node cli/run-ts.mjs bench/server.ts`; writes bench/out/server.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCheckpointDir } from '../cli/checkpoint-dir.ts';
import { ApiClient, createPair, createToken, pushCheckpoint } from '../cli/remote.ts';
import { readCheckpointDir } from '../cli/checkpoint-dir.ts';
import { startLocalServer, type LocalServer } from '../scripts/local-server.ts';
import { presetConfig } from '../shared/model/config.ts';
import { initValues } from '../shared/model/init.ts';
import { encodeCheckpoint } from '../shared/weights/checkpoint.ts';
import { allShards, specsFor } from '../shared/weights/manifest.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const SHARD_REQUESTS = Number(process.env.BENCH_SHARD_REQUESTS ?? 48);
const MANIFEST_REQUESTS = Number(process.env.BENCH_MANIFEST_REQUESTS ?? 300);
const CONCURRENCY = Math.min(8, Number(process.env.BENCH_CONCURRENCY ?? 4));

/** Runs `n` tasks with at most `c` in flight; returns each task's duration in ms. */
async function bounded(n: number, c: number, task: (i: number) => Promise<void>): Promise<number[]> {
  const times: number[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: c }, async () => {
      while (next < n) {
        const i = next++;
        const t0 = performance.now();
        await task(i);
        times[i] = performance.now() - t0;
      }
    }),
  );
  return times;
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

export async function runServerBench() {
  const tmp = mkdtempSync(join(tmpdir(), 'stripes-bench-'));
  let server: LocalServer | null = null;
  try {
    // The paper's generator (resnet_9blocks, ngf 64): 11.4 M float32 parameters in eleven shards (plus its float16 copy, which a version must carry).
    const config = presetConfig('full');
    const ckpt = await encodeCheckpoint(config, { G_AB: Object.fromEntries(initValues(specsFor('G_AB', config), 1)) });
    const dir = join(tmp, 'ckpt');
    await writeCheckpointDir(dir, ckpt);
    const shards = ckpt.manifest.groups.G_AB!.paths;

    server = await startLocalServer({ stateDir: join(tmp, 'state'), build: false });
    const url = server.url;
    const client = new ApiClient(url, (await createToken(new ApiClient(url), 'bench')).token);
    await createPair(client, { slug: 'bench', title: 'bench', domainA: 'A', domainB: 'B', licence: 'MIT' });
    const t0 = performance.now();
    await pushCheckpoint(client, 'bench', await readCheckpointDir(dir));
    const pushMs = performance.now() - t0;
    const totalBytes = ckpt.manifest.groups.G_AB!.sizes.reduce((a, b) => a + b, 0);
    const pushedBytes = allShards(ckpt.manifest).reduce((a, s) => a + s.size, 0);

    let served = 0;
    const shardStart = performance.now();
    await bounded(SHARD_REQUESTS, CONCURRENCY, async (i) => {
      const res = await fetch(`${url}/api/shards/${shards[i % shards.length]}`);
      // Read first, then add: `served += await …` would add to a stale value across the awaits.
      const n = (await res.arrayBuffer()).byteLength;
      served += n;
    });
    const shardSecs = (performance.now() - shardStart) / 1000;

    let read = 0;
    const diskStart = performance.now();
    await bounded(SHARD_REQUESTS, CONCURRENCY, async (i) => {
      const n = (await readFile(join(dir, 'shards', shards[i % shards.length]))).byteLength;
      read += n;
    });
    const diskSecs = (performance.now() - diskStart) / 1000;

    const manifestMs = await bounded(MANIFEST_REQUESTS, CONCURRENCY, async () => {
      const res = await fetch(`${url}/api/pairs/bench/versions/current`);
      await res.arrayBuffer();
    });
    const notModifiedMs = await bounded(MANIFEST_REQUESTS, CONCURRENCY, async (i) => {
      const res = await fetch(`${url}/api/shards/${shards[i % shards.length]}`, { headers: { 'If-None-Match': `"${shards[i % shards.length]}"` } });
      await res.arrayBuffer();
      if (res.status !== 304) throw new Error(`expected 304, got ${res.status}`);
    });

    const MB = 1e6;
    return {
      setup: { model: 'full-preset G_AB, float32', shards: shards.length, bytes: totalBytes, concurrency: CONCURRENCY },
      push: { bytes: pushedBytes, seconds: +(pushMs / 1000).toFixed(2), MBps: +(pushedBytes / MB / (pushMs / 1000)).toFixed(1) },
      shardDownload: { requests: SHARD_REQUESTS, bytes: served, MBps: +(served / MB / shardSecs).toFixed(1) },
      diskRead: { requests: SHARD_REQUESTS, bytes: read, MBps: +(read / MB / diskSecs).toFixed(1) },
      manifest: { requests: MANIFEST_REQUESTS, medianMs: +quantile(manifestMs, 0.5).toFixed(2), p99Ms: +quantile(manifestMs, 0.99).toFixed(2) },
      shard304: { requests: MANIFEST_REQUESTS, medianMs: +quantile(notModifiedMs, 0.5).toFixed(2), p99Ms: +quantile(notModifiedMs, 0.99).toFixed(2) },
    };
  } finally {
    await server?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await runServerBench();
  console.log(JSON.stringify(result, null, 2));
  mkdirSync(join(ROOT, 'bench/out'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/out/server.json'), JSON.stringify(result, null, 2) + '\n');
}
