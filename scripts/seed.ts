/**
 * Seeds the demo pair into a running server, once: a restart finds it and changes nothing.
 *
 * Until the demo-pair issue lands a trained checkpoint, the demo is a tiny-preset network at its
 * reference initialisation: it runs, but it has learned nothing, and its description says so.
 * STRIPES_DEMO_CHECKPOINT=DIR seeds a checkpoint folder instead.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readCheckpointDir, type CheckpointSource } from '../cli/checkpoint-dir.ts';
import { ApiClient, createPair, createToken, getPair, pushCheckpoint } from '../cli/remote.ts';
import { NETWORKS, presetConfig } from '../shared/model/config.ts';
import { initValues } from '../shared/model/init.ts';
import { encodeCheckpoint, type NetworkParams } from '../shared/weights/checkpoint.ts';
import { specsFor } from '../shared/weights/manifest.ts';

export const DEMO_SLUG = 'demo';

async function placeholderCheckpoint(): Promise<CheckpointSource> {
  const config = presetConfig('tiny');
  const networks: Record<string, NetworkParams> = {};
  NETWORKS.forEach((net, i) => (networks[net] = Object.fromEntries(initValues(specsFor(net, config), 1000 + i))));
  const ckpt = await encodeCheckpoint(config, networks, { meta: { placeholder: true, source: 'scripts/seed.ts: tiny preset at initialisation, untrained' } });
  return { where: 'placeholder', manifest: ckpt.manifest, fetchShard: async (h) => ckpt.shards.get(h)! };
}

/** Seeds the demo pair unless it is there; returns one line saying what happened. */
export async function seedDemo(server: string, stateDir: string): Promise<string> {
  // The demo's owner token lives beside the local state it owns, so a restart can finish a seed a crash interrupted.
  const tokenFile = join(stateDir, 'stripes-demo-token');
  let token = existsSync(tokenFile) ? (await readFile(tokenFile, 'utf8')).trim() : '';
  if (!token) {
    token = (await createToken(new ApiClient(server), 'demo seed')).token;
    await mkdir(stateDir, { recursive: true });
    await writeFile(tokenFile, token + '\n', { mode: 0o600 });
  }
  const client = new ApiClient(server, token);
  const pair = await getPair(client, DEMO_SLUG);
  if (pair?.currentVersion) return `demo pair "${DEMO_SLUG}" is there (version ${pair.currentVersion})`;
  const dir = process.env.STRIPES_DEMO_CHECKPOINT;
  if (!pair) {
    await createPair(client, {
      slug: DEMO_SLUG,
      title: dir ? 'Demo pair' : 'Demo pair (untrained placeholder)',
      domainA: 'A',
      domainB: 'B',
      description: dir
        ? `Seeded from ${dir}.`
        : 'An UNTRAINED placeholder: the tiny preset at its reference initialisation, so the app has a model to load. Its outputs are noise-like; a trained demo pair replaces it.',
      licence: 'MIT',
    });
  }
  const source = dir ? await readCheckpointDir(dir) : await placeholderCheckpoint();
  const { number } = await pushCheckpoint(client, DEMO_SLUG, source);
  return `seeded demo pair "${DEMO_SLUG}" version ${number}${dir ? ` from ${dir}` : ' (untrained placeholder)'}`;
}
