/**
 * Test data on top of what `npm start` seeds: gallery samples for the demo pair (with the demo
 * owner's token, which start keeps in its state folder), and extra pairs for the benchmark.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiClient, createPair, createToken, pushCheckpoint } from '../../cli/remote.ts';
import { api } from '../../shared/api/paths.ts';
import type { PairCreate } from '../../shared/api/pairs.ts';
import type { EncodedCheckpoint } from '../../shared/weights/checkpoint.ts';
import type { Pair, PairList } from '../../shared/api/pairs.ts';
import { ROOT } from './server.ts';

/** The demo pair `npm start` seeded: on a fresh server it is the only pair. */
export async function seededDemo(server: string): Promise<Pair> {
  const r = await fetch(server + api.pairs());
  if (!r.ok) throw new Error(`GET ${api.pairs()}: HTTP ${r.status}`);
  const { pairs } = (await r.json()) as PairList;
  if (pairs.length !== 1) throw new Error(`a fresh server should hold only the demo pair, found ${pairs.map((p) => p.slug).join(', ') || 'none'}`);
  if (pairs[0].currentVersion === null) throw new Error(`the demo pair "${pairs[0].slug}" has no version`);
  return pairs[0];
}

/** Gives the demo pair gallery samples where it has none (the test photo and a translation of it). */
export async function addDemoSamples(server: string, stateDir: string, demo: Pair): Promise<void> {
  if (demo.samples.A.length && demo.samples.B.length) return;
  const token = (await readFile(join(stateDir, 'stripes-demo-token'), 'utf8')).trim();
  for (const [domain, file] of [['A', 'chelsea.png'], ['B', 'chelsea.AtoB.png']] as const) {
    const r = await fetch(server + api.sample(demo.slug, domain, 0), {
      method: 'PUT',
      headers: { 'content-type': 'image/png', authorization: `Bearer ${token}` },
      body: (await readFile(join(ROOT, 'test/fixtures/images', file))) as Uint8Array<ArrayBuffer>,
    });
    if (!r.ok) throw new Error(`sample ${domain}: HTTP ${r.status} ${await r.text()}`);
  }
}

/** Creates a pair and publishes a checkpoint as its first version, as `stripes push` does. */
export async function publishPair(server: string, pair: PairCreate, ckpt: EncodedCheckpoint): Promise<void> {
  const { token } = await createToken(new ApiClient(server), 'bench');
  const client = new ApiClient(server, token);
  await createPair(client, pair);
  await pushCheckpoint(client, pair.slug, { where: 'memory', manifest: ckpt.manifest, fetchShard: async (h) => ckpt.shards.get(h)! });
}
