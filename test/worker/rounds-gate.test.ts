/**
 * A pair's shared model only ever gets better: a round's aggregate is a candidate, judged on the
 * pair's validation images against its base before it may become current; a rejected one leaves
 * current where it was, is recorded with its metrics and reasons, and its contributors are told.
 * Also: one contributor one voice, two contributors started together both count, the owner's
 * rollback, and the bounds that keep a round's storage small whatever clients send.
 */
import { describe, expect, it } from 'vitest';
import { NETWORKS, type NetworkName } from '../../shared/model/config.ts';
import { networkLength } from '../../shared/rounds/delta.ts';
import { roundPaths, type ContributionStatus } from '../../shared/rounds/protocol.ts';
import { specsFor } from '../../shared/weights/manifest.ts';
import { call, createPair, newToken, publish, putShard } from './helpers.ts';
import {
  baseCheckpoint,
  CONFIG,
  commit,
  contribute,
  currentVersion,
  lease,
  makeDelta,
  roundStatus,
  setupPair,
  uploadDelta,
  uploadValidation,
  versionOf,
  waitFor,
  weightsOf,
} from './rounds-harness.ts';

async function contribution(slug: string, token: string, leaseId: string): Promise<ContributionStatus> {
  const res = await call(roundPaths.contribution(slug, leaseId), { token });
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json();
}

async function versions(slug: string) {
  return (await call(`/api/pairs/${slug}/versions`).then((r) => r.json<any>())).versions as Array<{ number: number; source: string; current: boolean; gate: any }>;
}

/**
 * A delta that silences a generator: it cancels the last conv's weights and bias, so every output
 * is tanh(0) = mid-grey whatever the input. Small (well inside the commit's norm bound), finite,
 * and ruinous: exactly what the gate is for.
 */
async function silencingDelta(base: Awaited<ReturnType<typeof baseCheckpoint>>['manifest']): Promise<Record<NetworkName, Float32Array>> {
  const delta = Object.fromEntries(NETWORKS.map((n) => [n, new Float32Array(networkLength(CONFIG, n))])) as Record<NetworkName, Float32Array>;
  for (const net of ['G_AB', 'G_BA'] as const) {
    const flat = await weightsOf(base, net);
    const specs = specsFor(net, CONFIG);
    let offset = 0;
    for (const [i, s] of specs.entries()) {
      const size = s.shape.reduce((a, b) => a * b, 1);
      if (i >= specs.length - 2) for (let k = offset; k < offset + size; k++) delta[net][k] = -flat[k];
      offset += size;
    }
  }
  return delta;
}

describe('the quality gate', () => {
  it('rejects a candidate that makes the pair worse: current stays, the history and the contributor say why, and the owner cannot make it current', { timeout: 180_000 }, async () => {
    // Plain averaging (outer lr 1, no momentum): the new version is exactly base + delta.
    const fedAvg = { lr: 1, momentum: 0, nesterov: false };
    // 100 steps at the fine-tuning lr: a norm bound the silencing delta fits under.
    const { slug, owner, base, version } = await setupPair({ quorum: { min: 1, max: 1 }, train: { steps: 100 }, outer: { generators: fedAvg, discriminators: fedAvg } }, 3);
    const bad = await contribute(slug, await silencingDelta(base));
    const s = await waitFor('the gate to reject', () => roundStatus(slug), (s) => s.state === 'idle' && s.history.some((h) => h.kind === 'gate_rejected'));

    expect((await currentVersion(slug)).number).toBe(version);
    const rejected = s.history.find((h) => h.kind === 'gate_rejected')!;
    expect(rejected.version).toBe(version + 1);
    expect(rejected.reason).toMatch(/collapse|spread|variation|realism|cycle/i);
    console.log(`silenced generators: gate metrics ${JSON.stringify(rejected.metrics)}; ${rejected.reason}`);

    const list = await versions(slug);
    expect(list.map((v) => [v.number, v.source, v.current])).toEqual([
      [version, 'owner', true],
      [version + 1, 'round', false],
    ]);
    expect(list[1].gate).toMatchObject({ status: 'rejected', base: version, contributors: 1 });
    expect(list[1].gate.reasons.length).toBeGreaterThan(0);
    expect(list[1].gate.metrics.spreadAB).toBeLessThan(list[1].gate.baseMetrics.spreadAB);
    // The candidate is stored and readable (history), never current.
    expect((await versionOf(slug, version + 1)).gate).toMatchObject({ status: 'rejected' });

    const mine = await contribution(slug, bad.token, bad.lease.lease);
    expect(mine).toMatchObject({ state: 'not_merged', round: 1, version: version + 1 });
    expect(mine.reason).toMatch(/^the gate rejected version/);

    const roll = await call(`/api/pairs/${slug}/rollback`, { method: 'POST', token: owner, json: { version: version + 1 } });
    expect(roll.status).toBe(409);
    expect((await roll.json<any>()).error.message).toMatch(/did not pass the quality gate/);
    expect((await currentVersion(slug)).number).toBe(version);

    // The next round builds on the version that stayed current.
    const { token } = await newToken();
    expect(await lease(slug, token)).toMatchObject({ round: 2, baseVersion: version });
  });

  it('passes an honest candidate, marks its contributions merged, and measures the base once', { timeout: 180_000 }, async () => {
    const { slug, version } = await setupPair({ quorum: { min: 1, max: 1 }, train: { steps: 10 } }, 4);
    const c = await contribute(slug, makeDelta(1, 1e-4));
    await waitFor('version 2', () => roundStatus(slug), (s) => s.state === 'idle' && s.baseVersion === version + 1);
    expect(await contribution(slug, c.token, c.lease.lease)).toMatchObject({ state: 'merged', version: version + 1 });
    const [, v2] = await versions(slug);
    expect(v2).toMatchObject({ current: true, gate: { status: 'passed', base: version } });
    for (const k of ['cycleA', 'cycleB', 'realismAB', 'realismBA']) expect(Number.isFinite(v2.gate.metrics[k])).toBe(true);

    // Round 2's base is version 2, whose metrics the gate already has: they are reused, not re-measured.
    const c2 = await contribute(slug, makeDelta(2, 1e-4));
    await waitFor('version 3', () => roundStatus(slug), (s) => s.state === 'idle' && s.round === 2);
    const v3 = (await versions(slug)).find((v) => v.number === version + 2)!;
    expect(v3.gate.baseMetrics).toEqual(v2.gate.metrics);
    expect((await contribution(slug, c2.token, c2.lease.lease)).state).toMatch(/merged/);
  });

  it('keeps rounds closed until the owner has uploaded validation images, and checks their format', { timeout: 120_000 }, async () => {
    const { token: owner } = await newToken('owner');
    const slug = await createPair(owner);
    await publish(owner, slug, await baseCheckpoint(5));
    const { token } = await newToken();
    const res = await call(roundPaths.leases(slug), { method: 'POST', token, json: {} });
    expect(res.status).toBe(409);
    expect((await res.json<any>()).error.message).toMatch(/^no_validation_set: .*0 validation images of domain A/);

    const garbage = await call(`/api/pairs/${slug}/validation/A`, { method: 'PUT', token: owner, body: new TextEncoder().encode('<html>not a set</html>'), headers: { 'Content-Type': 'application/octet-stream' } });
    expect(garbage.status).toBe(400);
    expect((await garbage.json<any>()).error.message).toMatch(/validation set A: .*magic/i);
    const notOwner = await call(`/api/pairs/${slug}/validation/A`, { method: 'PUT', token, body: new Uint8Array(16), headers: { 'Content-Type': 'application/octet-stream' } });
    expect(notOwner.status).toBe(403);
    expect((await roundStatus(slug)).validation).toEqual({ A: 0, B: 0 });

    await uploadValidation(slug, owner);
    expect((await roundStatus(slug)).validation).toEqual({ A: 8, B: 8 });
    // Only the owner reads the images back: contributors must not train on them.
    expect((await call(`/api/pairs/${slug}/validation/A`, { token })).status).toBe(403);
    expect((await call(`/api/pairs/${slug}/validation/A`, { token: owner })).status).toBe(200);
    expect(await lease(slug, token)).toMatchObject({ round: 1 });
  });
});

describe('one contributor, one voice; no lost work', () => {
  it('two contributors started together on a quorum-1 pair both count', { timeout: 180_000 }, async () => {
    const { slug, version } = await setupPair({ quorum: { min: 1, max: 1 }, train: { steps: 10 } }, 6);
    const [t1, t2] = [await newToken('one'), await newToken('two')];
    const [l1, l2] = [await lease(slug, t1.token), await lease(slug, t2.token)];
    const b1 = await uploadDelta(slug, t1.token, l1, makeDelta(1, 1e-4));
    const b2 = await uploadDelta(slug, t2.token, l2, makeDelta(2, 1e-4));
    expect((await commit(slug, t1.token, l1.lease, b1)).status).toBe(200);
    // Quorum reached, but the second lease is still out: the round waits for it.
    await new Promise((r) => setTimeout(r, 300));
    expect(await roundStatus(slug)).toMatchObject({ state: 'open', committed: 1, outstanding: 1 });
    const late = await commit(slug, t2.token, l2.lease, b2);
    expect(late.status, await late.clone().text()).toBe(200);
    await waitFor('the round to close', () => roundStatus(slug), (s) => s.state === 'idle' && s.baseVersion === version + 1);
    expect((await currentVersion(slug)).manifest.meta).toMatchObject({ contributions: 2, contributors: 2 });
    for (const [t, l] of [[t1, l1], [t2, l2]] as const) expect(await contribution(slug, t.token, l.lease)).toMatchObject({ state: 'merged', version: version + 1 });
  });

  it('a token holds one lease per round, and the quorum counts contributors, not leases', { timeout: 180_000 }, async () => {
    const { slug, owner } = await setupPair({ quorum: { min: 2, max: 8 }, train: { steps: 10 } }, 7);
    const { token } = await newToken('sybil');
    const l = await lease(slug, token);
    const again = await call(roundPaths.leases(slug), { method: 'POST', token, json: {} });
    expect(again.status).toBe(429);
    expect((await again.json<any>()).error.message).toMatch(/^lease_limit: this token already holds a lease in round 1/);

    // Even where the owner allows several leases per token, they are one voice.
    expect((await call(roundPaths.config(slug), { method: 'PUT', token: owner, json: { leasesPerToken: 3 } })).status).toBe(200);
    const l2 = await lease(slug, token);
    for (const [x, seed] of [[l, 1], [l2, 2]] as const) expect((await commit(slug, token, x.lease, await uploadDelta(slug, token, x, makeDelta(seed, 1e-4)))).status).toBe(200);
    const s = await roundStatus(slug);
    expect(s).toMatchObject({ state: 'open', leases: 2, committed: 1 });
  });

  it('caps the leases a round hands out, saying so', { timeout: 120_000 }, async () => {
    const { slug } = await setupPair({ quorum: { min: 2, max: 8 }, maxLeases: 2 }, 8);
    for (let i = 0; i < 2; i++) await lease(slug, (await newToken()).token);
    const res = await call(roundPaths.leases(slug), { method: 'POST', token: (await newToken()).token, json: {} });
    expect(res.status).toBe(409);
    expect((await res.json<any>()).error.message).toMatch(/^round_full: round 1 has handed out its 2 leases/);
  });
});

describe('versions and rollback', () => {
  it('the owner points current back at an earlier version; the history records it; no bytes are copied', { timeout: 180_000 }, async () => {
    const { slug, owner, version } = await setupPair({ quorum: { min: 1, max: 1 }, train: { steps: 10 } }, 9);
    await contribute(slug, makeDelta(1, 1e-4));
    await waitFor('version 2', () => roundStatus(slug), (s) => s.state === 'idle' && s.baseVersion === version + 1);
    const v1 = await versionOf(slug, version);
    const { token } = await newToken();
    expect((await call(`/api/pairs/${slug}/rollback`, { method: 'POST', token, json: { version } })).status).toBe(403);
    expect((await call(`/api/pairs/${slug}/rollback`, { method: 'POST', token: owner, json: { version: 99 } })).status).toBe(404);
    expect((await call(`/api/pairs/${slug}/rollback`, { method: 'POST', token: owner, json: { version: 'one' } })).status).toBe(400);

    const res = await call(`/api/pairs/${slug}/rollback`, { method: 'POST', token: owner, json: { version } });
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await res.json<any>()).currentVersion).toBe(version);
    const cur = await currentVersion(slug);
    expect(cur.number).toBe(version);
    expect(cur.manifest).toEqual(v1.manifest);
    expect((await roundStatus(slug)).history.at(-1)).toMatchObject({ kind: 'rolled_back', version });
    // The next round trains from the version rolled back to.
    expect(await lease(slug, token)).toMatchObject({ baseVersion: version, round: 2 });
  });

  it('a round version never takes over the owner’s pending version', { timeout: 180_000 }, async () => {
    const { slug, owner, version } = await setupPair({ quorum: { min: 1, max: 1 }, train: { steps: 10 } }, 10);
    const next = await baseCheckpoint(11);
    const declared = await call(`/api/pairs/${slug}/versions`, { method: 'POST', token: owner, json: { manifest: next.manifest } });
    expect(declared.status).toBe(201);
    const pending = (await declared.json<any>()).number;
    await contribute(slug, makeDelta(1, 1e-4));
    await waitFor('the round', () => roundStatus(slug), (s) => s.state === 'idle' && s.round === 1);
    const roundVersion = (await versions(slug)).find((v) => v.source === 'round')!;
    expect(roundVersion.number).not.toBe(pending);
    // The owner's upload and commit still go through under its own number.
    for (const [hash, bytes] of next.shards) expect((await putShard(owner, hash, bytes)).status).toBeLessThan(300);
    const done = await call(`/api/pairs/${slug}/versions/${pending}/commit`, { method: 'POST', token: owner });
    expect(done.status, await done.clone().text()).toBe(200);
    expect((await currentVersion(slug)).number).toBe(pending);
    expect(version).toBeLessThan(pending);
  });
});

describe('bounded storage', () => {
  it('refuses oversized losses and names; a flood of rejections never pushes the history out', { timeout: 180_000 }, async () => {
    const { slug } = await setupPair({ quorum: { min: 2, max: 8 }, train: { steps: 10 } }, 12);
    const { token } = await newToken();
    const l = await lease(slug, token);
    const body = await uploadDelta(slug, token, l, makeDelta(1, 1e-4));
    const many = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`loss_${i}`, 1]));
    expect((await commit(slug, token, l.lease, { ...body, losses: many })).status).toBe(400);
    expect((await commit(slug, token, l.lease, { ...body, losses: { ['x'.repeat(40000)]: 1 } })).status).toBe(400);
    const badName = await call(roundPaths.leases(slug), { method: 'POST', token: (await newToken()).token, json: { name: '\u202eTIM' } });
    expect(badName.status).toBe(400);
    expect((await commit(slug, token, l.lease, body)).status).toBe(200);

    // 60 refused uploads: they land in the bounded rejections, the accepted commit stays in the history.
    const bytes = new Uint8Array(8);
    for (let i = 0; i < 30; i++) {
      const other = await newToken();
      await call(roundPaths.delta(slug, l.lease, 'G_AB', 0), { method: 'PUT', token: other.token, body: bytes, headers: { 'Content-Type': 'application/octet-stream', 'X-Shard-Sha256': 'a'.repeat(64) } });
      await call(roundPaths.delta(slug, l.lease, 'G_AB', 0), { method: 'PUT', token, body: bytes, headers: { 'Content-Type': 'application/octet-stream', 'X-Shard-Sha256': 'a'.repeat(64) } });
    }
    const s = await roundStatus(slug);
    expect(s.history.filter((h) => h.kind === 'accepted')).toHaveLength(1);
    expect(s.rejections.length).toBeLessThanOrEqual(20);
    expect(s.rejections.at(-1)!.reason).toMatch(/^already_committed/);
    expect(JSON.stringify(s).length).toBeLessThan(64 * 1024);
    const page = await call(`${roundPaths.history(slug)}?limit=1`).then((r) => r.json<any>());
    expect(page.entries).toHaveLength(1);
    expect(page.entries[0].kind).toBe('accepted');
  });

  it('a re-upload replaces its slot: one lease never holds more than one delta in R2', { timeout: 120_000 }, async () => {
    const { env } = await import('cloudflare:test');
    const { slug } = await setupPair({ quorum: { min: 2, max: 8 }, train: { steps: 10 } }, 13);
    const { token } = await newToken();
    const l = await lease(slug, token);
    for (let i = 0; i < 5; i++) await uploadDelta(slug, token, l, makeDelta(100 + i, 1e-4));
    const stored = (await env.WEIGHTS.list({ prefix: `rounds/${slug}/` })).objects.length;
    expect(stored).toBe(NETWORKS.length);
  });

  it('refuses outer settings that could only blow the model up', { timeout: 30_000 }, async () => {
    const { slug, owner } = await setupPair({}, 14);
    const res = await call(roundPaths.config(slug), { method: 'PUT', token: owner, json: { outer: { generators: { lr: 1e308, momentum: 0.9, nesterov: true } } } });
    expect(res.status).toBe(400);
    expect((await res.json<any>()).error.message).toMatch(/outer\.generators\.lr/);
  });
});
