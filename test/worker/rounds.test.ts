/**
 * Community training rounds in the Workers runtime: lease → upload → commit → aggregate → the
 * pair's new version is current; every way a contribution is refused; a crash mid-aggregation.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { NETWORKS } from '../../shared/model/config.ts';
import { aggregateArrays } from '../../shared/rounds/aggregate.ts';
import { decodeDeltaShard, encodeDelta } from '../../shared/rounds/delta.ts';
import { outerStep } from '../../shared/rounds/outer-optimizer.ts';
import { roundPaths, type RoundStatus } from '../../shared/rounds/protocol.ts';
import { FINE_TUNE_SCHEDULE } from '../../shared/rounds/schedule.ts';
import {
  commit,
  contribute,
  inRound,
  currentVersion,
  lease,
  makeDelta,
  setupPair,
  uploadDelta,
  uploadShard,
  waitFor,
  waitForVersion,
  weightsOf,
} from './rounds-harness.ts';
import { call, newToken, publish } from './helpers.ts';
import { baseCheckpoint } from './rounds-harness.ts';

const QUORUM2 = { quorum: { min: 2, max: 2 }, train: { steps: 10 } };

async function status(slug: string): Promise<RoundStatus> {
  const res = await call(roundPaths.round(slug));
  expect(res.status).toBe(200);
  return res.json();
}

/** What the round should produce: base + outer step of the clipped weighted mean of the float16 deltas. */
async function expectedNetwork(base: Float32Array, deltas: Float32Array[], samples: number[]) {
  const half = await Promise.all(deltas.map(async (d) => decodeDeltaShard((await encodeDelta(d, 1 << 30)).shards[0].bytes).values));
  const norms = half.map((d) => Math.hypot(...d)).sort((a, b) => a - b);
  const median = norms.length % 2 ? norms[norms.length >> 1] : (norms[norms.length / 2 - 1] + norms[norms.length / 2]) / 2;
  const agg = await aggregateArrays(half, samples, { mode: 'mean', clip: 2 * median });
  const want = base.slice();
  outerStep(want, new Float32Array(want.length), agg, { lr: 0.7, momentum: 0.9, nesterov: true });
  return want;
}

describe('a round from lease to new version', () => {
  it('aggregates two contributions into the next version and moves current', { timeout: 120_000 }, async () => {
    const { slug, base, version } = await setupPair(QUORUM2);
    const d1 = makeDelta(1, 1e-4);
    const d2 = makeDelta(2, 2e-4);
    const c1 = await contribute(slug, d1);
    expect(c1.lease).toMatchObject({ round: 1, baseVersion: version, networks: [...NETWORKS], train: { steps: 10 } });
    expect((await status(slug)).committed).toBe(1);
    await contribute(slug, d2);

    // Quorum max reached: the alarm is due now.
    await waitFor('the round to close', () => status(slug), (s) => s.state === 'idle' && s.baseVersion === version + 1);
    const cur = await currentVersion(slug);
    expect(cur.number).toBe(version + 1);
    // The base says nothing of its training, so the round fine-tuned; the version records where the schedule is.
    expect(cur.manifest.meta).toEqual({ source: 'round', round: 1, base: version, contributions: 2, contributors: 2, mode: 'mean', schedule: { ...FINE_TUNE_SCHEDULE, position: 10 } });

    for (const net of ['G_AB', 'D_B'] as const) {
      const want = await expectedNetwork(await weightsOf(base, net), [d1[net], d2[net]], [10, 10]);
      const got = await weightsOf(cur.manifest, net);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
      expect(worst).toBeLessThan(1e-7);
    }

    const s = await status(slug);
    expect(s).toMatchObject({ round: 1, state: 'idle', baseVersion: version + 1, position: 10 });
    expect(s.history.map((h) => h.kind)).toEqual(['accepted', 'accepted', 'aggregated', 'passed']);
    expect(s.history[2].version).toBe(version + 1);
    expect(s.history[3]).toMatchObject({ version: version + 1, contributors: 2 });
    expect(s.history[3].metrics).toMatchObject({ finite: true });

    // The next lease opens round 2 on the new version.
    const { token } = await newToken();
    expect(await lease(slug, token)).toMatchObject({ round: 2, baseVersion: version + 1, position: 10 });
  });

  it('extends a round that reaches its deadline below the minimum, and keeps what was committed', { timeout: 120_000 }, async () => {
    const { slug, version } = await setupPair({ quorum: { min: 2, max: 4 }, train: { steps: 10 } });
    await contribute(slug, makeDelta(1, 1e-4));
    await inRound(slug, async (_o, state) => {
      const r = (await state.storage.get<any>('round'))!;
      await state.storage.put('round', { ...r, deadline: Date.now() - 1 });
      await state.storage.setAlarm(Date.now());
    });
    const s = await waitFor('the round to be extended', () => status(slug), (s) => s.history.at(-1)?.kind === 'extended');
    expect(s).toMatchObject({ state: 'open', committed: 1 });
    expect(s.deadline!).toBeGreaterThan(Date.now());
    expect(s.history.at(-1)).toMatchObject({ kind: 'extended' });
    expect((await currentVersion(slug)).number).toBe(version);

    await contribute(slug, makeDelta(2, 1e-4));
    await inRound(slug, async (_o, state) => {
      const r = (await state.storage.get<any>('round'))!;
      await state.storage.put('round', { ...r, deadline: Date.now() - 1 });
      await state.storage.setAlarm(Date.now());
    });
    await waitForVersion(slug, version + 1);
  });
});

describe('a contributor that vanishes mid-upload', () => {
  it('is not counted, and its partial shards are deleted with the round', { timeout: 120_000 }, async () => {
    const { slug, version } = await setupPair({ quorum: { min: 2, max: 2 }, train: { steps: 10 } });
    const { token } = await newToken();
    const l = await lease(slug, token);
    const g = await encodeDelta(makeDelta(5, 1e-4).G_AB, l.maxShardBytes);
    expect((await uploadShard(slug, token, l.lease, 'G_AB', 0, g.shards[0].bytes, g.shards[0].hash)).status).toBe(200);
    const scratch = async () => (await env.WEIGHTS.list({ prefix: `rounds/${slug}/` })).objects.length;
    expect(await scratch()).toBe(1);
    await inRound(slug, async (_o, state) => {
      const rec = (await state.storage.get<any>(`lease:${l.lease}`))!;
      await state.storage.put(`lease:${l.lease}`, { ...rec, expiresAt: Date.now() - 1 });
    });
    for (const s of [1, 2]) await contribute(slug, makeDelta(s, 1e-4));
    await waitFor('the round to close', () => status(slug), (s) => s.state === 'idle' && s.baseVersion === version + 1);
    expect((await currentVersion(slug)).manifest.meta).toMatchObject({ contributions: 2 });
    expect(await scratch()).toBe(0);
  });
});

describe('refusing contributions', () => {
  it('names every reason with a 4xx and records it apart from the history', { timeout: 120_000 }, async () => {
    // One token takes several leases here, to reach every refusal from one place.
    const { slug, owner } = await setupPair({ quorum: { min: 2, max: 8 }, train: { steps: 10 }, leasesPerToken: 4 });
    const { token } = await newToken();
    const l = await lease(slug, token);
    const delta = makeDelta(3, 1e-4);
    const g = await encodeDelta(delta.G_AB, l.maxShardBytes);
    const expectError = async (res: Response, status: number, reason: string) => {
      const text = await res.text();
      expect(res.status, text).toBe(status);
      expect(JSON.parse(text).error.message).toMatch(new RegExp(`^${reason}: `));
    };

    // Hash mismatch, wrong size, bad index, NaN: refused at upload.
    await expectError(await uploadShard(slug, token, l.lease, 'G_AB', 0, g.shards[0].bytes, 'f'.repeat(64)), 400, 'hash_mismatch');
    const short = g.shards[0].bytes.slice(2);
    await expectError(await uploadShard(slug, token, l.lease, 'G_AB', 0, short, g.shards[0].hash), 400, 'size_mismatch');
    await expectError(await uploadShard(slug, token, l.lease, 'G_AB', 7, g.shards[0].bytes, g.shards[0].hash), 400, 'bad_shard_index');
    const nan = delta.G_AB.slice();
    nan[5] = NaN;
    const bad = await encodeDelta(nan, l.maxShardBytes);
    await expectError(await uploadShard(slug, token, l.lease, 'G_AB', 0, bad.shards[0].bytes, bad.shards[0].hash), 422, 'not_finite');
    const huge = delta.G_AB.slice();
    huge[0] = 1e6; // beyond float16: Infinity on the wire
    const inf = await encodeDelta(huge, l.maxShardBytes);
    await expectError(await uploadShard(slug, token, l.lease, 'G_AB', 0, inf.shards[0].bytes, inf.shards[0].hash), 422, 'not_finite');

    // Someone else's lease is unknown to this token.
    const other = await newToken();
    await expectError(await uploadShard(slug, other.token, l.lease, 'G_AB', 0, g.shards[0].bytes, g.shards[0].hash), 404, 'unknown_lease');

    // Commit before every shard is there; then with a claimed norm that is not what was uploaded.
    const body = await uploadDelta(slug, token, l, delta);
    const partial = await lease(slug, token);
    await expectError(await commit(slug, token, partial.lease, body), 400, 'missing_shards');
    await expectError(await commit(slug, token, l.lease, { ...body, norms: { ...body.norms, D_A: body.norms.D_A * 2 } }), 422, 'norm_mismatch');
    await expectError(await commit(slug, token, l.lease, { ...body, samples: 11 }), 400, 'bad_counts');
    await expectError(await commit(slug, token, l.lease, { ...body, steps: 11 }), 400, 'bad_counts');

    // Accepted once; the same commit again is acknowledged, never counted twice.
    const ok = await commit(slug, token, l.lease, body);
    expect(await ok.json()).toMatchObject({ accepted: true, repeated: false, committed: 1 });
    const again = await commit(slug, token, l.lease, body);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ accepted: true, repeated: true, committed: 1 });
    await expectError(await commit(slug, token, l.lease, { ...body, samples: 5 }), 409, 'already_committed');
    await expectError(await uploadShard(slug, token, l.lease, 'G_AB', 0, g.shards[0].bytes, g.shards[0].hash), 409, 'already_committed');

    // A delta far beyond what 10 Adam steps at the round's lr can do.
    const big = makeDelta(4, 1);
    const l2 = await lease(slug, token);
    const bigBody = await uploadDelta(slug, token, l2, big);
    await expectError(await commit(slug, token, l2.lease, bigBody), 422, 'norm_too_large');

    // An expired lease.
    const l3 = await lease(slug, token);
    await inRound(slug, async (_o, state) => {
      const rec = (await state.storage.get<any>(`lease:${l3.lease}`))!;
      await state.storage.put(`lease:${l3.lease}`, { ...rec, expiresAt: Date.now() - 1 });
    });
    await expectError(await uploadShard(slug, token, l3.lease, 'G_AB', 0, g.shards[0].bytes, g.shards[0].hash), 410, 'lease_expired');

    // A stale base: the owner publishes a new version mid-round; the next lease starts a new round.
    const l4 = await lease(slug, token);
    const staleBody = await uploadDelta(slug, token, l4, delta);
    await publish(owner, slug, await baseCheckpoint(77));
    const fresh = await lease(slug, token);
    expect(fresh.round).toBe(l4.round + 1);
    await expectError(await commit(slug, token, l4.lease, staleBody), 409, 'stale_base');

    const s = await status(slug);
    const reasons = s.rejections.map((h) => h.reason.split(':')[0]);
    expect(reasons).toEqual([
      'hash_mismatch', 'size_mismatch', 'bad_shard_index', 'not_finite', 'not_finite', 'missing_shards', 'norm_mismatch', 'bad_counts', 'bad_counts',
      'already_committed', 'already_committed', 'norm_too_large', 'lease_expired', 'stale_base',
    ]);
    expect(s.history.filter((h) => h.kind === 'accepted')).toHaveLength(1);
    expect(s.history.some((h) => h.kind === 'abandoned')).toBe(true);
  });
});

describe('crash safety', () => {
  it('an exception mid-aggregation leaves the old version current; the retry yields the same version, counted once', { timeout: 180_000 }, async () => {
    // The same base and deltas on two pairs: one aggregates cleanly, the other crashes first.
    const clean = await setupPair(QUORUM2, 5);
    const crashy = await setupPair(QUORUM2, 5);
    const deltas = [makeDelta(11, 1e-4), makeDelta(12, 1e-4)];
    for (const d of deltas) await contribute(clean.slug, d);
    await waitFor('the clean round', () => status(clean.slug), (s) => s.state === 'idle' && s.baseVersion === clean.version + 1);
    const want = await currentVersion(clean.slug);

    await inRound(crashy.slug, (_o, state) => state.storage.put('faults', { failAfterWrites: 3 }));
    for (const d of deltas) await contribute(crashy.slug, d);
    await waitFor('an injected failure', () => inRound(crashy.slug, async (_o, state) => (await state.storage.get<{ injected?: number }>('faults'))?.injected ?? 0), (n) => n >= 1);
    expect((await currentVersion(crashy.slug)).number).toBe(crashy.version);
    expect(await status(crashy.slug)).toMatchObject({ state: 'aggregating', committed: 2 });
    // Contributions arriving meanwhile wait for the next round.
    const { token } = await newToken();
    const res = await call(roundPaths.leases(crashy.slug), { method: 'POST', token, json: {} });
    expect(res.status).toBe(409);

    // The retry: the runtime re-runs the alarm.
    await inRound(crashy.slug, async (o, state) => {
      await state.storage.delete('faults');
      await o.alarm();
    });
    // It goes on one network per alarm until the version is whole.
    const got = await waitForVersion(crashy.slug, crashy.version + 1);
    expect(got.number).toBe(crashy.version + 1);
    expect(got.manifest.groups).toEqual(want.manifest.groups);
    expect(got.manifest.meta).toMatchObject({ contributions: 2 });
    const s = await waitFor('the round to finish', () => status(crashy.slug), (s) => s.state === 'idle');
    expect(s.history.filter((h) => h.kind === 'aggregated')).toHaveLength(1);

    // A further retry after success (e.g. a duplicate alarm) changes nothing.
    await inRound(crashy.slug, (o) => o.alarm());
    expect((await currentVersion(crashy.slug)).number).toBe(crashy.version + 1);
  });

  it('a crash after current moved is finished on retry without a second version', { timeout: 120_000 }, async () => {
    const { slug, version } = await setupPair(QUORUM2, 6);
    for (const s of [21, 22]) await contribute(slug, makeDelta(s, 1e-4));
    // Let the round run, then put its state back to judging the candidate, as if the object died
    // right after the gate moved current and before it finished its own bookkeeping.
    const before = await inRound(slug, async (_o, state) => state.storage.get<any>('round'));
    await waitFor('the round to close', () => status(slug), (s) => s.state === 'idle' && s.baseVersion === version + 1);
    const frozen = (await status(slug)).history.filter((h) => h.kind === 'accepted').map((h) => h.lease);
    await inRound(slug, async (_o, state) => {
      await state.storage.put('round', { ...before, state: 'gating', frozen, candidate: version + 1 });
    });
    await inRound(slug, (o) => o.alarm());
    expect((await currentVersion(slug)).number).toBe(version + 1);
    const s = await status(slug);
    expect(s).toMatchObject({ state: 'idle', baseVersion: version + 1 });
    expect(s.history.filter((h) => h.kind === 'aggregated')).toEqual([expect.objectContaining({ version: version + 1 })]);
    expect((await call(`/api/pairs/${slug}/versions`).then((r) => r.json<any>())).versions.map((v: any) => v.number)).toEqual([version, version + 1]);
  });
});

describe('the round API', () => {
  it('is described in the OpenAPI document', async () => {
    const doc = await (await call('/api/openapi.json')).json<{ paths: Record<string, Record<string, unknown>> }>();
    expect(Object.keys(doc.paths['/api/pairs/{slug}/round'])).toEqual(['get']);
    expect(Object.keys(doc.paths['/api/pairs/{slug}/round/config'])).toEqual(['put']);
    expect(Object.keys(doc.paths['/api/pairs/{slug}/round/leases'])).toEqual(['post']);
    expect(Object.keys(doc.paths['/api/pairs/{slug}/round/leases/{lease}/deltas/{net}/{index}'])).toEqual(['put']);
    expect(Object.keys(doc.paths['/api/pairs/{slug}/round/leases/{lease}/commit'])).toEqual(['post']);
  });
  it('refuses a round config that does not hold together, naming the field, and only from the owner', async () => {
    const { slug, owner } = await setupPair({});
    const bad = await call(roundPaths.config(slug), { method: 'PUT', token: owner, json: { quorum: { min: 5, max: 3 } } });
    expect(bad.status).toBe(400);
    expect((await bad.json<any>()).error.message).toMatch(/quorum.*min must not exceed quorum.max/);
    const { token } = await newToken();
    expect((await call(roundPaths.config(slug), { method: 'PUT', token, json: { quorum: { min: 1 } } })).status).toBe(403);
    expect((await status(slug)).config.quorum).toEqual({ min: 2, max: 8 });
  });
});

