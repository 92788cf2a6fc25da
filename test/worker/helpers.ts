/** Test helpers: call the worker, mint tokens, build small real checkpoints, snapshot stored state. */
import { env, SELF } from 'cloudflare:test';
import { expect } from 'vitest';
import { presetConfig, type NetworkName } from '../../shared/model/config.ts';
import { specsFor } from '../../shared/weights/manifest.ts';
import type { CheckpointManifest, WeightGroup } from '../../shared/weights/format.ts';

export const BASE = 'http://stripes.test';

export function call(path: string, init: RequestInit & { token?: string; json?: unknown } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set('Authorization', `Bearer ${init.token}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set('Content-Type', 'application/json');
    body = JSON.stringify(init.json);
  }
  return SELF.fetch(`${BASE}${path}`, { ...init, headers, body });
}

export async function newToken(name = 'test'): Promise<{ id: string; token: string }> {
  const res = await call('/api/tokens', { method: 'POST', json: { name } });
  expect(res.status).toBe(201);
  return res.json();
}

let slugCounter = 0;
export function uniqueSlug(prefix = 'pair'): string {
  slugCounter += 1;
  return `${prefix}-${slugCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

export async function createPair(token: string, slug = uniqueSlug()): Promise<string> {
  const res = await call('/api/pairs', {
    method: 'POST',
    token,
    json: { slug, title: `Title of ${slug}`, domainA: 'horse', domainB: 'zebra', description: 'stripes', licence: 'CC-BY-4.0' },
  });
  expect(res.status, await res.clone().text()).toBe(201);
  return slug;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return [...d].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export interface TestCheckpoint {
  manifest: CheckpointManifest;
  shards: Map<string, Uint8Array>;
}

/**
 * A tiny-preset checkpoint with deterministic pseudo-random bytes: every group one shard (the
 * tiny networks are far under 4 MiB), plus the float16 copy of each generator a version needs
 * (`fp16 = false` leaves them out, to test that refusal).
 */
export async function tinyCheckpoint(seed: number, nets: NetworkName[] = ['G_AB', 'G_BA'], fp16 = true): Promise<TestCheckpoint> {
  const config = presetConfig('tiny');
  let state = seed >>> 0 || 1;
  const shards = new Map<string, Uint8Array>();
  const group = async (net: NetworkName, dtype: 'float32' | 'float16'): Promise<WeightGroup> => {
    const weights = specsFor(net, config).map((s) => ({ name: s.name, shape: [...s.shape], dtype }));
    const elements = weights.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
    const bytes = new Uint8Array(elements * (dtype === 'float32' ? 4 : 2));
    for (let i = 0; i < bytes.length; i++) {
      state = (state * 1664525 + 1013904223) >>> 0;
      bytes[i] = state >>> 24;
    }
    const hash = await sha256Hex(bytes);
    shards.set(hash, bytes);
    return { paths: [hash], sizes: [bytes.length], weights };
  };
  const groups: CheckpointManifest['groups'] = {};
  for (const n of nets) groups[n] = await group(n, 'float32');
  const manifest: CheckpointManifest = { format: 'stripes-checkpoint', version: 1, config, groups, meta: { seed } };
  const gens = nets.filter((n) => n.startsWith('G'));
  if (fp16 && gens.length) {
    const half: CheckpointManifest['groups'] = {};
    for (const g of gens) half[g] = await group(g, 'float16');
    manifest.variants = { float16: half };
  }
  return { manifest, shards };
}

export async function putShard(token: string, hash: string, bytes: Uint8Array): Promise<Response> {
  return call(`/api/shards/${hash}`, {
    method: 'PUT',
    token,
    body: bytes,
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.length) },
  });
}

/** Declares, uploads and commits a checkpoint; returns the version number. */
export async function publish(token: string, slug: string, ckpt: TestCheckpoint): Promise<number> {
  const declared = await call(`/api/pairs/${slug}/versions`, { method: 'POST', token, json: { manifest: ckpt.manifest } });
  expect(declared.status, await declared.clone().text()).toBe(201);
  const { number } = (await declared.json()) as { number: number };
  for (const [hash, bytes] of ckpt.shards) expect((await putShard(token, hash, bytes)).status).toBeLessThan(300);
  const commit = await call(`/api/pairs/${slug}/versions/${number}/commit`, { method: 'POST', token });
  expect(commit.status, await commit.clone().text()).toBe(200);
  return number;
}

/** Everything a request could change: every registry row and every R2 key. */
export async function snapshot(): Promise<unknown> {
  const tables = ['pairs', 'versions', 'version_shards', 'samples', 'tokens'];
  const rows: Record<string, unknown[]> = {};
  for (const t of tables) rows[t] = (await env.DB.prepare(`SELECT * FROM ${t} ORDER BY rowid`).all()).results;
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await env.WEIGHTS.list({ cursor });
    keys.push(...page.objects.map((o) => `${o.key}:${o.size}`));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return { rows, keys };
}

/** Runs a request that must fail: checks status, error code, and that no stored state changed. */
export async function expectRefused(run: () => Promise<Response>, status: number, code: string, messagePart?: RegExp): Promise<string> {
  const before = await snapshot();
  const res = await run();
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('Content-Type')).toMatch(/application\/json/);
  const body = JSON.parse(text) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(0);
  if (messagePart) expect(body.error.message).toMatch(messagePart);
  expect(await snapshot()).toEqual(before);
  return body.error.message;
}
