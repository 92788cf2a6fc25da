/**
 * The contributor's protocol code (shared/rounds/client.ts, used by `stripes contribute` and the
 * browser) against the real worker: two contributors with a stand-in trainer close a round.
 */
import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { NETWORKS } from '../../shared/model/config.ts';
import { contributeRound, RoundClientError, type RoundTrainer, type Weights } from '../../shared/rounds/client.ts';
import { BASE, newToken } from './helpers.ts';
import { rng, roundStatus, setupPair, waitFor } from './rounds-harness.ts';

/** Moves every weight by a small seeded amount, as a few Adam steps would. */
const nudge = (seed: number, poison = false): RoundTrainer => async (base, lease, onStep) => {
  const r = rng(seed);
  const weights = {} as Weights;
  for (const net of NETWORKS) weights[net] = Object.fromEntries(Object.entries(base[net]).map(([k, v]) => [k, v.map((x) => x + 1e-4 * r())]));
  if (poison) weights.G_AB[Object.keys(weights.G_AB)[0]][0] = NaN;
  for (let s = 1; s <= lease.train.steps; s++) onStep(s, { G: 1 / s, D: 0.5 });
  return { weights, steps: lease.train.steps, samples: lease.train.steps * lease.train.batchSize, losses: { G: 0.7, D: 0.5 } };
};

describe('the contributor client', () => {
  it('leases, downloads the base, uploads its delta and commits; two of them make a new version', { timeout: 120_000 }, async () => {
    const { slug, version } = await setupPair({ quorum: { min: 2, max: 2 }, train: { steps: 3 } });
    const fetch = ((url: string, init?: RequestInit) => SELF.fetch(url, init)) as typeof globalThis.fetch;
    const events: string[] = [];
    const summaries = [];
    for (const seed of [1, 2]) {
      const { token } = await newToken();
      summaries.push(await contributeRound({ server: BASE, slug, token, fetch, trainer: nudge(seed), onEvent: (e) => events.push(e.kind) }));
    }
    expect(summaries[0]).toMatchObject({ round: 1, baseVersion: version, steps: 3, samples: 3, receipt: { accepted: true, committed: 1 } });
    expect(summaries[1].receipt.committed).toBe(2);
    expect(summaries[0].uploadedBytes).toBeGreaterThan(0);
    expect(events.filter((e) => e === 'step')).toHaveLength(6);
    expect(events.filter((e) => e === 'uploaded')).toHaveLength(8);
    await waitFor('the round to close', () => roundStatus(slug), (s) => s.state === 'idle' && s.baseVersion === version + 1);
  });

  it('reports a refusal with the server reason', { timeout: 120_000 }, async () => {
    const { slug } = await setupPair({ quorum: { min: 2, max: 2 }, train: { steps: 3 } });
    const fetch = ((url: string, init?: RequestInit) => SELF.fetch(url, init)) as typeof globalThis.fetch;
    const { token } = await newToken();
    const run = contributeRound({ server: BASE, slug, token, fetch, trainer: nudge(3, true) });
    await expect(run).rejects.toThrow(RoundClientError);
    await expect(run).rejects.toThrow(/^upload G_AB shard 0: the server answered 422: not_finite: G_AB shard 0 holds NaN/);
  });
});
