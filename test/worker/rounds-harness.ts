/**
 * Driving rounds from tests (Workers runtime): a pair with a small real base version, and
 * contributors that lease, upload float16 delta shards and commit over HTTP.
 */
import { env, runInDurableObject } from 'cloudflare:test';
import { expect } from 'vitest';
import { NETWORKS, presetConfig, type NetworkName } from '../../shared/model/config.ts';
import { encodeDelta, flattenNetwork, networkLength } from '../../shared/rounds/delta.ts';
import { roundPaths, type Lease, type RoundConfigPatch } from '../../shared/rounds/protocol.ts';
import { decodeGroup, encodeCheckpoint } from '../../shared/weights/checkpoint.ts';
import { encodeValidationSet } from '../../shared/gate/validation-set.ts';
import { specsFor } from '../../shared/weights/manifest.ts';
import type { CheckpointManifest } from '../../shared/weights/format.ts';
import type { PairRound } from '../../worker/rounds/pair-round.ts';
import { call, createPair, newToken, publish } from './helpers.ts';

export const CONFIG = presetConfig('tiny');

export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32 - 0.5;
}

/** A tiny-preset checkpoint with small seeded weights and a float16 copy of the generators. */
export async function baseCheckpoint(seed: number, meta: Record<string, unknown> = { seed }) {
  const r = rng(seed);
  const nets = Object.fromEntries(
    NETWORKS.map((net) => [net, Object.fromEntries(specsFor(net, CONFIG).map((s) => [s.name, Float32Array.from({ length: s.shape.reduce((a, b) => a * b, 1) }, () => r() * 0.1)]))]),
  );
  return encodeCheckpoint(CONFIG, nets, { meta });
}

/** A validation set of `count` smooth seeded images (the gate measures every round's candidate on them). */
export function validationSet(seed: number, count = 8, side = 32): Uint8Array {
  const r = rng(seed);
  const images = Array.from({ length: count }, () => {
    const [a, b, c] = [r(), r(), r()];
    const data = new Uint8Array(side * side * 3);
    for (let y = 0; y < side; y++)
      for (let x = 0; x < side; x++)
        for (let ch = 0; ch < 3; ch++) data[(y * side + x) * 3 + ch] = Math.round(127.5 + 120 * Math.sin((x * (a + 0.6) + y * (b + 0.6)) / 5 + ch * (c + 1)));
    return { data, width: side, height: side, channels: 3 as const };
  });
  return encodeValidationSet(images);
}

export async function uploadValidation(slug: string, owner: string, seed = 7): Promise<void> {
  for (const [i, d] of (['A', 'B'] as const).entries()) {
    const res = await call(`/api/pairs/${slug}/validation/${d}`, { method: 'PUT', token: owner, body: validationSet(seed + i), headers: { 'Content-Type': 'application/octet-stream' } });
    expect(res.status, await res.clone().text()).toBe(200);
  }
}

export async function setupPair(patch: RoundConfigPatch, seed = 1, meta?: Record<string, unknown>): Promise<{ slug: string; owner: string; base: CheckpointManifest; version: number }> {
  const { token: owner } = await newToken('owner');
  const slug = await createPair(owner);
  const ckpt = await baseCheckpoint(seed, meta);
  const version = await publish(owner, slug, ckpt);
  const res = await call(roundPaths.config(slug), { method: 'PUT', token: owner, json: patch });
  expect(res.status, await res.clone().text()).toBe(200);
  await uploadValidation(slug, owner);
  return { slug, owner, base: ckpt.manifest, version };
}

export function stubFor(slug: string) {
  return env.ROUNDS.get(env.ROUNDS.idFromName(slug));
}

/** Runs `fn` inside the pair's PairRound instance (to inject faults or age its state). */
export function inRound<R>(slug: string, fn: (o: PairRound, state: DurableObjectState) => R | Promise<R>): Promise<R> {
  return runInDurableObject(stubFor(slug), (o, state) => fn(o as unknown as PairRound, state));
}

export async function lease(slug: string, token: string): Promise<Lease> {
  const res = await call(roundPaths.leases(slug), { method: 'POST', token, json: {} });
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json();
}

/** A delta per network: `scale × (direction + noise)`, the same direction for every honest contributor. */
export function makeDelta(seed: number, scale: number, noise = 0.3): Record<NetworkName, Float32Array> {
  const dir = rng(999);
  const r = rng(seed);
  return Object.fromEntries(
    NETWORKS.map((net) => [net, Float32Array.from({ length: networkLength(CONFIG, net) }, () => scale * (dir() + noise * r()))]),
  ) as Record<NetworkName, Float32Array>;
}

export async function uploadShard(slug: string, token: string, leaseId: string, net: NetworkName, index: number, bytes: Uint8Array, hash: string) {
  return call(roundPaths.delta(slug, leaseId, net, index), {
    method: 'PUT',
    token,
    body: bytes,
    headers: { 'Content-Type': 'application/octet-stream', 'X-Shard-Sha256': hash },
  });
}

/** Uploads every shard of a delta; returns the commit body (the caller may tamper with it). */
export async function uploadDelta(slug: string, token: string, l: Lease, delta: Record<NetworkName, Float32Array>) {
  const norms = {} as Record<NetworkName, number>;
  const shards = {} as Record<NetworkName, string[]>;
  for (const net of NETWORKS) {
    const enc = await encodeDelta(delta[net], l.maxShardBytes);
    for (const [i, s] of enc.shards.entries()) {
      const res = await uploadShard(slug, token, l.lease, net, i, s.bytes, s.hash);
      expect(res.status, await res.clone().text()).toBe(200);
    }
    norms[net] = enc.norm;
    shards[net] = enc.shards.map((s) => s.hash);
  }
  return { samples: l.train.steps * l.train.batchSize, steps: l.train.steps, norms, shards, losses: { G: 1.5, D: 0.25 } };
}

export async function commit(slug: string, token: string, leaseId: string, body: unknown) {
  return call(roundPaths.commit(slug, leaseId), { method: 'POST', token, json: body });
}

export async function contribute(slug: string, delta: Record<NetworkName, Float32Array>): Promise<{ token: string; lease: Lease; body: Awaited<ReturnType<typeof uploadDelta>> }> {
  const { token } = await newToken('contributor');
  const l = await lease(slug, token);
  const body = await uploadDelta(slug, token, l, delta);
  const res = await commit(slug, token, l.lease, body);
  expect(res.status, await res.clone().text()).toBe(200);
  return { token, lease: l, body };
}

export async function currentVersion(slug: string): Promise<{ number: number; manifest: CheckpointManifest }> {
  const res = await call(`/api/pairs/${slug}/versions/current`);
  expect(res.status, await res.clone().text()).toBe(200);
  const v = await res.json<{ number: number; manifest: CheckpointManifest }>();
  return v;
}

/** A committed version by number (current or not: a candidate the gate rejected is still stored). */
export async function versionOf(slug: string, n: number): Promise<{ number: number; manifest: CheckpointManifest; gate: unknown }> {
  const res = await call(`/api/pairs/${slug}/versions/${n}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json();
}

/** A network of a stored version, flattened. */
export async function weightsOf(manifest: CheckpointManifest, net: NetworkName): Promise<Float32Array> {
  const params = await decodeGroup(manifest, net, async (h) => new Uint8Array(await (await env.WEIGHTS.get(`shards/${h}`))!.arrayBuffer()));
  return flattenNetwork(CONFIG, net, params);
}

/** Polls until `check` holds: the round's alarm fires on its own in the test runtime too. */
export async function waitFor<T>(what: string, get: () => Promise<T>, check: (v: T) => boolean, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (check(v)) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}: last ${JSON.stringify(v).slice(0, 300)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function roundStatus(slug: string) {
  const res = await call(roundPaths.round(slug));
  expect(res.status).toBe(200);
  return res.json<import('../../shared/rounds/protocol.ts').RoundStatus>();
}

/** Waits for the pair's current version to become `n`. */
export async function waitForVersion(slug: string, n: number) {
  return waitFor(`version ${n} of ${slug}`, async () => (await call(`/api/pairs/${slug}/versions/current`)).json<any>(), (v) => v?.number === n);
}
