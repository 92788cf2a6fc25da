/**
 * Seeds the demo pair into a running server, once: a restart finds it and changes nothing.
 *
 * The demo is `demo/pair.json` (metadata) with its checkpoint folder (`demo/checkpoint`) when the
 * repo has them. Without them it is an untrained placeholder, slug `demo`: the tiny preset at its
 * reference initialisation, so the app has a model to load; its title and description say so.
 * STRIPES_DEMO_CHECKPOINT=DIR seeds that checkpoint folder under the demo metadata instead.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { readCheckpointDir, type CheckpointSource } from '../cli/checkpoint-dir.ts';
import { ApiClient, createPair, createToken, getPair, pushCheckpoint } from '../cli/remote.ts';
import { validationSetFromFolder } from '../cli/validation-set.ts';
import { PairCreateSchema, type PairCreate } from '../shared/api/pairs.ts';
import { NETWORKS, presetConfig } from '../shared/model/config.ts';
import { RoundConfigPatchSchema, type RoundConfigPatch } from '../shared/rounds/protocol.ts';
import { initValues } from '../shared/model/init.ts';
import { encodeCheckpoint, type NetworkParams } from '../shared/weights/checkpoint.ts';
import { specsFor } from '../shared/weights/manifest.ts';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
// STRIPES_DEMO_DIR points elsewhere (tests).
const DEMO_DIR = process.env.STRIPES_DEMO_DIR ?? join(ROOT, 'demo');

const PLACEHOLDER: PairCreate = {
  slug: 'demo',
  title: 'Demo pair (untrained placeholder)',
  domainA: 'A',
  domainB: 'B',
  description:
    'An UNTRAINED placeholder: the tiny preset at its reference initialisation, so the app has a model to load. Its outputs are noise-like; a trained demo pair replaces it.',
  licence: 'MIT',
};

async function placeholderCheckpoint(): Promise<CheckpointSource> {
  const config = presetConfig('tiny');
  const networks: Record<string, NetworkParams> = {};
  NETWORKS.forEach((net, i) => (networks[net] = Object.fromEntries(initValues(specsFor(net, config), 1000 + i))));
  const ckpt = await encodeCheckpoint(config, networks, { meta: { placeholder: true, source: 'scripts/seed.ts: tiny preset at initialisation, untrained' } });
  return { where: 'placeholder', manifest: ckpt.manifest, fetchShard: async (h) => ckpt.shards.get(h)! };
}

/** The trained demo from demo/pair.json and its checkpoint folder, or null while the repo has none. */
async function repoDemo(): Promise<{ pair: PairCreate; dir: string; samples: Array<{ before: string; after: string }>; round?: RoundConfigPatch } | null> {
  const file = join(DEMO_DIR, 'pair.json');
  if (!existsSync(file)) return null;
  const meta = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  const dir = join(DEMO_DIR, typeof meta.checkpoint === 'string' ? meta.checkpoint : 'checkpoint');
  if (!existsSync(join(dir, 'manifest.json'))) return null;
  const pair = PairCreateSchema.parse({
    slug: meta.slug,
    title: meta.title,
    domainA: meta.domainA,
    domainB: meta.domainB,
    description: meta.description,
    licence: meta.licence,
  });
  // The gallery card shows sample A/i beside B/i: an A→B sample's before and after.
  const samples = (Array.isArray(meta.samples) ? (meta.samples as DemoSample[]) : [])
    .filter((s) => s.direction === 'AtoB')
    .slice(0, 4)
    .map((s) => ({ before: join(DEMO_DIR, s.before), after: join(DEMO_DIR, s.after) }));
  const round = meta.round === undefined ? undefined : RoundConfigPatchSchema.parse(meta.round);
  return { pair, dir, samples, round };
}

interface DemoSample {
  direction: 'AtoB' | 'BtoA';
  before: string;
  after: string;
}

async function uploadSamples(client: ApiClient, slug: string, samples: Array<{ before: string; after: string }>): Promise<void> {
  for (const [i, s] of samples.entries()) {
    for (const [domain, file] of [['A', s.before], ['B', s.after]] as const) {
      const body = new Uint8Array(await readFile(file));
      await client.request('PUT', `/api/pairs/${encodeURIComponent(slug)}/samples/${domain}/${i}`, { body, contentType: 'image/png' });
    }
  }
}

/** Seeds the demo pair unless it is there; returns one line saying what happened. */
export async function seedDemo(server: string, stateDir: string): Promise<string> {
  const override = process.env.STRIPES_DEMO_CHECKPOINT;
  const demo = await repoDemo();
  const pairMeta = demo?.pair ?? PLACEHOLDER;
  const dir = override ?? demo?.dir;
  const slug = pairMeta.slug;

  // The demo's owner token lives beside the local state it owns, so a restart can finish a seed a crash interrupted.
  const tokenFile = join(stateDir, 'stripes-demo-token');
  let token = existsSync(tokenFile) ? (await readFile(tokenFile, 'utf8')).trim() : '';
  if (!token) {
    token = (await createToken(new ApiClient(server), 'demo seed')).token;
    await mkdir(stateDir, { recursive: true });
    await writeFile(tokenFile, token + '\n', { mode: 0o600 });
  }
  const client = new ApiClient(server, token);
  const pair = await getPair(client, slug);
  if (pair?.currentVersion) {
    // A seed interrupted after the push finishes the rest on the next start.
    const added = demo ? await ensureValidation(client, slug) : '';
    return `demo pair "${slug}" is there (version ${pair.currentVersion})${added}`;
  }
  if (!pair) await createPair(client, pairMeta);
  const source = dir ? await readCheckpointDir(dir) : await placeholderCheckpoint();
  const { number } = await pushCheckpoint(client, slug, source);
  if (demo) {
    await uploadSamples(client, slug, demo.samples);
    // The demo trained on 64×64 crops: its rounds do too, short enough for a first contribution
    // from a laptop's browser, and one contribution makes the next version.
    if (demo.round) await client.request('PUT', `/api/pairs/${encodeURIComponent(slug)}/round/config`, { json: demo.round });
    await ensureValidation(client, slug);
  }
  return `seeded demo pair "${slug}" version ${number}${dir ? ` from ${dir}` : ' (untrained placeholder)'}`;
}

/**
 * The demo's validation set (demo/validation/{A,B}: held-out tiles, see scripts/demo-pair/README.md),
 * uploaded when the server does not have it yet: without one the quality gate cannot run, so the
 * pair's rounds would not open.
 */
async function ensureValidation(client: ApiClient, slug: string): Promise<string> {
  const dirs = { A: join(DEMO_DIR, 'validation', 'A'), B: join(DEMO_DIR, 'validation', 'B') };
  if (!existsSync(dirs.A) || !existsSync(dirs.B)) return '';
  const round = (await client.json('GET', `/api/pairs/${encodeURIComponent(slug)}/round`)) as { validation?: { A: number; B: number } };
  if (round.validation && round.validation.A > 0 && round.validation.B > 0) return '';
  for (const d of ['A', 'B'] as const) {
    const set = validationSetFromFolder(dirs[d], `demo/validation/${d}`);
    await client.request('PUT', `/api/pairs/${encodeURIComponent(slug)}/validation/${d}`, { body: set.bytes });
  }
  return ' (validation images added)';
}
