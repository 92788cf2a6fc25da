/**
 * The worker restarted mid-round: every Durable Object instance is thrown away
 * (abortAllDurableObjects: in-memory fields gone, storage kept), and the fresh PairRound answers
 * status, lease, upload and commit from its storage alone. The round then closes on the
 * restarted object; the contribution committed before the restart is counted exactly once.
 */
import { abortAllDurableObjects } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { NETWORKS, type NetworkName } from '../../shared/model/config.ts';
import { encodeDelta } from '../../shared/rounds/delta.ts';
import { commit, contribute, currentVersion, inRound, lease, makeDelta, roundStatus, setupPair, uploadShard, waitFor, waitForVersion } from './rounds-harness.ts';
import { newToken } from './helpers.ts';

describe('the worker restarted mid-round', () => {
  it('keeps the round, its leases, partial uploads and commits; the version advances once', { timeout: 120_000 }, async () => {
    const { slug, version } = await setupPair({ quorum: { min: 2, max: 2 }, train: { steps: 10 } });

    // Contributor 1 commits; contributor 2 leases and uploads only its generators' shards.
    const c1 = await contribute(slug, makeDelta(1, 1e-4));
    const { token: t2 } = await newToken('contributor');
    const l2 = await lease(slug, t2);
    const d2 = makeDelta(2, 1e-4);
    const enc2 = Object.fromEntries(await Promise.all(NETWORKS.map(async (n) => [n, await encodeDelta(d2[n], l2.maxShardBytes)] as const)));
    const sendShards = async (nets: readonly NetworkName[]) => {
      for (const net of nets)
        for (const [i, s] of enc2[net].shards.entries()) expect((await uploadShard(slug, t2, l2.lease, net, i, s.bytes, s.hash)).status).toBe(200);
    };
    await sendShards(['G_AB', 'G_BA']);
    const before = await roundStatus(slug);
    expect(before).toMatchObject({ round: 1, state: 'open', baseVersion: version, leases: 2, committed: 1 });

    // A marker only the old instance's memory holds, to prove the restart really replaced it.
    await inRound(slug, (o) => {
      (o as unknown as { marker?: number }).marker = 7;
    });
    await abortAllDurableObjects();
    expect(await inRound(slug, (o) => (o as unknown as { marker?: number }).marker)).toBeUndefined();

    const after = await roundStatus(slug);
    expect(after).toEqual(before);

    // The repeated commit of contributor 1 (its answer lost in the restart) is acknowledged, not counted.
    const again = await commit(slug, c1.token, c1.lease.lease, c1.body);
    expect(again.status, await again.clone().text()).toBe(200);
    expect(await again.json()).toMatchObject({ repeated: true, committed: 1 });

    // A new contributor can still lease into the same round.
    const { token: t3 } = await newToken('contributor');
    const l3 = await lease(slug, t3);
    expect(l3).toMatchObject({ round: 1, baseVersion: version });

    // Contributor 2 sends only what it had not (the discriminators) and commits: the generators'
    // shards uploaded before the restart are found in the lease's stored record and in R2.
    await sendShards(['D_A', 'D_B']);
    const body2 = {
      samples: l2.train.steps * l2.train.batchSize,
      steps: l2.train.steps,
      norms: Object.fromEntries(NETWORKS.map((n) => [n, enc2[n].norm])),
      shards: Object.fromEntries(NETWORKS.map((n) => [n, enc2[n].shards.map((s) => s.hash)])),
    };
    const res2 = await commit(slug, t2, l2.lease, body2);
    expect(res2.status, await res2.clone().text()).toBe(200);
    expect(await res2.json()).toMatchObject({ repeated: false, committed: 2 });
    // Contributor 3 vanishes: the round waits for its lease until it expires, then closes.
    expect((await roundStatus(slug)).outstanding).toBe(1);
    await inRound(slug, async (o, state) => {
      const rec = (await state.storage.get<any>(`lease:${l3.lease}`))!;
      await state.storage.put(`lease:${l3.lease}`, { ...rec, expiresAt: Date.now() - 1 });
      await o.alarm();
    });

    const cur = await waitForVersion(slug, version + 1);
    expect(cur.manifest.meta).toMatchObject({ source: 'round', round: 1, base: version, contributions: 2 });
    const s = await waitFor('the round to finish', () => roundStatus(slug), (s) => s.state === 'idle');
    expect(s).toMatchObject({ round: 1, baseVersion: version + 1, position: 10 });
    expect(s.history.map((h) => h.kind)).toEqual(['accepted', 'accepted', 'aggregated', 'passed']);
    expect(s.history.filter((h) => h.kind === 'accepted').map((h) => h.lease)).toEqual([c1.lease.lease, l2.lease]);
    expect(s.history.at(-2)).toMatchObject({ version: version + 1, samples: c1.body.samples + body2.samples });

    // A second restart after the round changes nothing.
    await abortAllDurableObjects();
    expect((await currentVersion(slug)).number).toBe(version + 1);
    expect((await roundStatus(slug)).history.filter((h) => h.kind === 'aggregated')).toHaveLength(1);
  });
});
