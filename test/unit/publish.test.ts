/**
 * The publish protocol `stripes push` and the web app share (shared/api/publish.ts), against a
 * scripted fetch: only missing shards are sent, each checked against its hash first; a dropped
 * connection or a 5xx is retried, a 4xx is not; the commit comes last; refusals name the request.
 */
import { describe, expect, it } from 'vitest';
import { publishVersion, PublishError } from '../../shared/api/publish.ts';
import { presetConfig, NETWORKS } from '../../shared/model/config.ts';
import { initValues } from '../../shared/model/init.ts';
import { encodeCheckpoint } from '../../shared/weights/checkpoint.ts';
import { specsFor } from '../../shared/weights/manifest.ts';

async function tinyCheckpoint() {
  const config = presetConfig('tiny');
  const nets = Object.fromEntries(NETWORKS.map((n, i) => [n, Object.fromEntries(initValues(specsFor(n, config), 5 + i))]));
  return encodeCheckpoint(config, nets);
}

function server(present: Set<string>, script: { failPuts?: number[]; putStatus?: number } = {}) {
  const calls: string[] = [];
  let puts = 0;
  const fetchFn = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    const method = init?.method ?? 'GET';
    calls.push(`${method} ${url}`);
    if (method === 'POST' && url.endsWith('/versions')) {
      const { manifest } = JSON.parse(String(init!.body));
      const shards = new Map<string, number>();
      for (const g of [...Object.values(manifest.groups), ...Object.values(manifest.variants?.float16 ?? {})] as Array<{ paths: string[]; sizes: number[] }>)
        g.paths.forEach((h, i) => shards.set(h, g.sizes[i]));
      return Response.json({ number: 4, shards: [...shards].map(([hash, size]) => ({ hash, size, present: present.has(hash) })) }, { status: 201 });
    }
    if (method === 'PUT') {
      puts++;
      if (script.failPuts?.includes(puts)) throw new TypeError('fetch failed');
      if (script.putStatus) return Response.json({ error: { code: 'x', message: 'only the owner may publish' } }, { status: script.putStatus });
      return Response.json({ created: true });
    }
    if (method === 'POST' && url.endsWith('/commit')) return Response.json({ number: 4 });
    return new Response('no', { status: 404 });
  }) as typeof fetch;
  return { fetchFn, calls };
}

describe('publishVersion', () => {
  it('uploads only the shards the server lacks, retries a dropped connection, then commits', async () => {
    const ckpt = await tinyCheckpoint();
    const all = [...ckpt.shards.keys()];
    const { fetchFn, calls } = server(new Set(all.slice(0, 2)), { failPuts: [1] });
    const uploaded: string[] = [];
    let declared: number | null = null;
    const r = await publishVersion({
      fetch: fetchFn,
      server: 'http://x',
      token: 't',
      slug: 'p',
      manifest: ckpt.manifest,
      where: 'memory',
      shard: async (h) => ckpt.shards.get(h)!,
      onDeclared: (todo, there) => (declared = todo.length * 100 + there),
      onUploaded: (h) => uploaded.push(h),
      concurrency: 1,
    });
    expect(r).toEqual({ number: 4, uploaded: all.length - 2, skipped: 2 });
    expect(declared).toBe((all.length - 2) * 100 + 2);
    expect(uploaded.sort()).toEqual(all.slice(2).sort());
    // One PUT more than shards: the dropped one was sent again.
    expect(calls.filter((c) => c.startsWith('PUT')).length).toBe(all.length - 2 + 1);
    expect(calls.at(-1)).toBe('POST http://x/api/pairs/p/versions/4/commit');
  });

  it('refuses a shard whose bytes do not match their hash, and does not commit', async () => {
    const ckpt = await tinyCheckpoint();
    const { fetchFn, calls } = server(new Set());
    await expect(
      publishVersion({ fetch: fetchFn, server: '', token: 't', slug: 'p', manifest: ckpt.manifest, where: 'memory', shard: async () => new Uint8Array(8) }),
    ).rejects.toThrow(/memory/);
    expect(calls.some((c) => c.includes('/commit'))).toBe(false);
  });

  it('does not retry a 4xx, and names the request and the server\'s reason', async () => {
    const ckpt = await tinyCheckpoint();
    const { fetchFn, calls } = server(new Set(), { putStatus: 403 });
    const err = await publishVersion({ fetch: fetchFn, server: 'http://x', token: 't', slug: 'p', manifest: ckpt.manifest, where: 'memory', shard: async (h) => ckpt.shards.get(h)!, concurrency: 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(PublishError);
    expect(err.status).toBe(403);
    expect(err.reason).toBe('only the owner may publish');
    expect(err.message).toMatch(/^PUT http:\/\/x\/api\/shards\/[0-9a-f]{64}: only the owner may publish$/);
    expect(calls.filter((c) => c.startsWith('PUT'))).toHaveLength(1);
  });
});
