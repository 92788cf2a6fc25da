/**
 * Seeds a local server with the demo pair through the public API, the way `stripes push`
 * publishes: a token, the pair, a declared version, its shards, the commit.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { api } from '../../shared/api/paths.ts';
import { encodeCheckpoint, type EncodedCheckpoint } from '../../shared/weights/checkpoint.ts';
import { readSafetensors } from '../../shared/weights/safetensors.ts';
import { importTorchGenerators } from '../../shared/weights/torch-import.ts';
import { ROOT } from './server.ts';

export const DEMO_SLUG = 'demo';

async function call(url: string, init: RequestInit): Promise<any> {
  const r = await fetch(url, init);
  const text = await r.text();
  if (!r.ok) throw new Error(`${init.method ?? 'GET'} ${url}: HTTP ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** The reference-format generators the CLI tests use (random weights, made by PyTorch). */
async function fixtureCheckpoint(): Promise<EncodedCheckpoint> {
  const dir = join(ROOT, 'test/fixtures/torch-import');
  const read = async (f: string) => ({ tensors: readSafetensors(new Uint8Array(await readFile(join(dir, f))), f).tensors, what: f });
  const { config, networks } = importTorchGenerators(await read('G_AB.f32.safetensors'), await read('G_BA.f16.safetensors'));
  return encodeCheckpoint(config, networks, { meta: { source: 'test/fixtures/torch-import' } });
}

export async function seedDemoPair(server: string): Promise<void> {
  const json = (body: unknown, token?: string): RequestInit => ({
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const { token } = await call(server + api.tokens(), json({ name: 'seed' }));
  await call(
    server + api.pairs(),
    json(
      { slug: DEMO_SLUG, title: 'Demo pair', domainA: 'photo', domainB: 'noise', description: 'Random reference-format generators for tests.', licence: 'CC0-1.0' },
      token,
    ),
  );
  const ckpt = await fixtureCheckpoint();
  const declared = await call(server + api.versions(DEMO_SLUG), json({ manifest: ckpt.manifest }, token));
  for (const s of declared.shards as Array<{ hash: string; present: boolean }>) {
    if (s.present) continue;
    await call(server + api.shard(s.hash), {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${token}` },
      body: ckpt.shards.get(s.hash)! as Uint8Array<ArrayBuffer>,
    });
  }
  await call(server + api.commit(DEMO_SLUG, declared.number), { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  // Gallery samples: the test photo and the reference generator's translation of it.
  for (const [domain, file] of [['A', 'chelsea.png'], ['B', 'chelsea.AtoB.png']] as const) {
    await call(server + api.sample(DEMO_SLUG, domain, 0), {
      method: 'PUT',
      headers: { 'content-type': 'image/png', authorization: `Bearer ${token}` },
      body: (await readFile(join(ROOT, 'test/fixtures/images', file))) as Uint8Array<ArrayBuffer>,
    });
  }
}
