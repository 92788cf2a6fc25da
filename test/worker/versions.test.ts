/**
 * Publishing and serving versions: declare a manifest, upload its shards by hash, commit; a
 * half-uploaded version is never served, and shards are immutable, cacheable and range-readable.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { SHARD_BODY_LIMIT } from '../../shared/api/versions.ts';
import { call, createPair, expectRefused, newToken, publish, putShard, sha256Hex, snapshot, tinyCheckpoint } from './helpers.ts';

async function declare(token: string, slug: string, manifest: unknown) {
  return call(`/api/pairs/${slug}/versions`, { method: 'POST', token, json: { manifest } });
}

describe('publishing a version', () => {
  it('declares, uploads, commits, then serves the manifest', async () => {
    const { token } = await newToken();
    const slug = await createPair(token);
    const ckpt = await tinyCheckpoint(1, ['G_AB', 'G_BA', 'D_A', 'D_B']);
    const res = await declare(token, slug, ckpt.manifest);
    expect(res.status).toBe(201);
    const declared = await res.json<any>();
    expect(declared).toMatchObject({ slug, number: 1, state: 'pending' });
    expect(declared.shards).toHaveLength(6); // four float32 networks, two float16 generators
    expect(declared.shards.every((s: any) => s.present === false)).toBe(true);

    // Pending: not served.
    await expectRefused(() => call(`/api/pairs/${slug}/versions/current`), 404, 'not_found', /no committed version/);
    await expectRefused(() => call(`/api/pairs/${slug}/versions/1`), 404, 'not_found');

    for (const [hash, bytes] of ckpt.shards) {
      const put = await putShard(token, hash, bytes);
      expect(put.status).toBe(201);
      expect(await put.json()).toEqual({ hash, size: bytes.length, created: true });
    }
    const stored = await env.WEIGHTS.get(`shards/${[...ckpt.shards.keys()][0]}`);
    expect(new Uint8Array(await stored!.arrayBuffer())).toEqual([...ckpt.shards.values()][0]);

    const commit = await call(`/api/pairs/${slug}/versions/1/commit`, { method: 'POST', token });
    expect(commit.status).toBe(200);
    expect(await commit.json<any>()).toMatchObject({ number: 1, state: 'committed' });

    const cur = await call(`/api/pairs/${slug}/versions/current`);
    expect(cur.status).toBe(200);
    const body = await cur.json<any>();
    expect(body).toMatchObject({ slug, number: 1, state: 'committed' });
    expect(body.manifest).toEqual(ckpt.manifest);
    const byNumber = await call(`/api/pairs/${slug}/versions/1`);
    expect(byNumber.headers.get('Cache-Control')).toBe('public, max-age=31536000, immutable');
    expect((await byNumber.json<any>()).manifest).toEqual(ckpt.manifest);
    expect((await (await call(`/api/pairs/${slug}`)).json<any>()).currentVersion).toBe(1);
    expect(await (await call(`/api/pairs/${slug}/versions`)).json<any>()).toMatchObject({ versions: [{ number: 1 }] });

    await expectRefused(() => call(`/api/pairs/${slug}/versions/1/commit`, { method: 'POST', token }), 409, 'conflict', /already committed/);
  });

  it('makes a second version current and keeps the first', async () => {
    const { token } = await newToken();
    const slug = await createPair(token);
    await publish(token, slug, await tinyCheckpoint(2));
    const v2 = await tinyCheckpoint(3);
    const declared = await (await declare(token, slug, v2.manifest)).json<any>();
    expect(declared.number).toBe(2);
    // While v2 is pending, v1 stays current.
    expect((await (await call(`/api/pairs/${slug}/versions/current`)).json<any>()).number).toBe(1);
    for (const [hash, bytes] of v2.shards) await putShard(token, hash, bytes);
    expect((await call(`/api/pairs/${slug}/versions/2/commit`, { method: 'POST', token })).status).toBe(200);
    expect((await (await call(`/api/pairs/${slug}/versions/current`)).json<any>()).number).toBe(2);
    expect((await (await call(`/api/pairs/${slug}/versions/1`)).json<any>()).number).toBe(1);
  });

  it('answers 304 to a poll of the current version until a new one is committed', async () => {
    const { token } = await newToken();
    const slug = await createPair(token);
    await publish(token, slug, await tinyCheckpoint(8));
    const first = await call(`/api/pairs/${slug}/versions/current`);
    const etag = first.headers.get('ETag')!;
    expect(first.headers.get('Cache-Control')).toBe('no-cache');
    await first.arrayBuffer();
    const same = await call(`/api/pairs/${slug}/versions/current`, { headers: { 'If-None-Match': etag } });
    expect(same.status).toBe(304);
    await same.arrayBuffer();
    const byNumber = await call(`/api/pairs/${slug}/versions/1`, { headers: { 'If-None-Match': etag } });
    expect(byNumber.status).toBe(304);
    await byNumber.arrayBuffer();
    await publish(token, slug, await tinyCheckpoint(9));
    const moved = await call(`/api/pairs/${slug}/versions/current`, { headers: { 'If-None-Match': etag } });
    expect(moved.status).toBe(200);
    expect(moved.headers.get('ETag')).not.toBe(etag);
    expect((await moved.json<any>()).number).toBe(2);
  });

  it('resumes: declaring the same manifest again returns the pending version with what is already stored', async () => {
    const { token } = await newToken();
    const slug = await createPair(token);
    const ckpt = await tinyCheckpoint(4);
    const first = await (await declare(token, slug, ckpt.manifest)).json<any>();
    const [hash, bytes] = [...ckpt.shards][0];
    await putShard(token, hash, bytes);
    const again = await (await declare(token, slug, ckpt.manifest)).json<any>();
    expect(again.number).toBe(first.number);
    expect(again.shards.find((s: any) => s.hash === hash).present).toBe(true);
    expect(again.shards.filter((s: any) => !s.present)).toHaveLength(ckpt.shards.size - 1);
    // A different manifest replaces the pending one under the same number.
    const other = await tinyCheckpoint(5);
    const replaced = await (await declare(token, slug, other.manifest)).json<any>();
    expect(replaced.number).toBe(first.number);
    const rows = await env.DB.prepare('SELECT COUNT(*) AS n FROM versions WHERE pair_slug = ?').bind(slug).first<{ n: number }>();
    expect(rows!.n).toBe(1);
  });

  it('uploading the same shard twice is harmless', async () => {
    const { token } = await newToken();
    const slug = await createPair(token);
    const ckpt = await tinyCheckpoint(6);
    await declare(token, slug, ckpt.manifest);
    const [hash, bytes] = [...ckpt.shards][0];
    expect((await putShard(token, hash, bytes)).status).toBe(201);
    const before = await snapshot();
    const again = await putShard(token, hash, bytes);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ hash, size: bytes.length, created: false });
    expect(await snapshot()).toEqual(before);
  });
});

describe('publishing refuses bad input and changes nothing', () => {
  it('refuses an invalid manifest, naming the field', async () => {
    const { token } = await newToken();
    const slug = await createPair(token);
    const { manifest } = await tinyCheckpoint(10);
    const wrongShape = structuredClone(manifest) as any;
    wrongShape.groups.G_AB.weights[0].shape = [3, 3, 3, 4];
    await expectRefused(() => declare(token, slug, wrongShape), 400, 'invalid_manifest', /model\.1\.weight.*shape/);
    const badHash = structuredClone(manifest) as any;
    badHash.groups.G_AB.paths = ['not-a-hash'];
    await expectRefused(() => declare(token, slug, badHash), 400, 'invalid_manifest', /paths\[0\]/);
    await expectRefused(() => declare(token, slug, { ...manifest, version: 99 }), 400, 'invalid_manifest', /version 99/);
    const noHalf = (await tinyCheckpoint(10, ['G_AB', 'G_BA'], false)).manifest;
    await expectRefused(() => declare(token, slug, noHalf), 400, 'invalid_manifest', /float16.*missing G_AB, G_BA/);
    // Discriminators alone need no float16 copy.
    const dOnly = (await tinyCheckpoint(10, ['D_A'], false)).manifest;
    expect((await declare(token, slug, dOnly)).status).toBe(201);
    await expectRefused(() => call(`/api/pairs/${slug}/versions`, { method: 'POST', token, json: { manifest: 'nope' } }), 400, 'bad_request', /manifest/);
    await expectRefused(
      () => call(`/api/pairs/${slug}/versions`, { method: 'POST', token, body: '{"manifest": {', headers: { 'Content-Type': 'application/json' } }),
      400,
      'bad_request',
    );
  });

  it("refuses other owners, missing tokens and unknown pairs", async () => {
    const owner = await newToken();
    const other = await newToken();
    const slug = await createPair(owner.token);
    const { manifest } = await tinyCheckpoint(11);
    await expectRefused(() => declare(other.token, slug, manifest), 403, 'forbidden');
    await expectRefused(() => call(`/api/pairs/${slug}/versions`, { method: 'POST', json: { manifest } }), 401, 'unauthorized');
    await expectRefused(() => declare(owner.token, 'no-such-pair', manifest), 404, 'not_found');
    await declare(owner.token, slug, manifest);
    await expectRefused(() => call(`/api/pairs/${slug}/versions/1/commit`, { method: 'POST', token: other.token }), 403, 'forbidden');
  });

  it('refuses an oversized manifest body', async () => {
    const { token } = await newToken();
    const slug = await createPair(token);
    const { manifest } = await tinyCheckpoint(12);
    const big = { ...manifest, meta: { notes: 'x'.repeat(1100 * 1024) } };
    await expectRefused(() => declare(token, slug, big), 413, 'payload_too_large');
  });

  it('refuses a shard no pending manifest names, or one named only by another owner', async () => {
    const owner = await newToken();
    const other = await newToken();
    const slug = await createPair(owner.token);
    const ckpt = await tinyCheckpoint(13);
    const stray = new Uint8Array([1, 2, 3, 4]);
    const strayHash = await sha256Hex(stray);
    await expectRefused(() => putShard(owner.token, strayHash, stray), 403, 'shard_not_declared', /declare/);
    await declare(owner.token, slug, ckpt.manifest);
    const [hash, bytes] = [...ckpt.shards][0];
    await expectRefused(() => putShard(other.token, hash, bytes), 403, 'shard_not_declared');
    await expectRefused(() => putShard('', hash, bytes), 401, 'unauthorized');
  });

  it('refuses bytes that do not hash to their name, the wrong length and oversized bodies', async () => {
    const { token } = await newToken();
    const slug = await createPair(token);
    const ckpt = await tinyCheckpoint(14);
    await declare(token, slug, ckpt.manifest);
    const [hash, bytes] = [...ckpt.shards][0];
    const corrupted = bytes.slice();
    corrupted[100] ^= 0xff;
    await expectRefused(() => putShard(token, hash, corrupted), 400, 'hash_mismatch', new RegExp(hash));
    await expectRefused(() => putShard(token, hash, bytes.slice(1)), 400, 'size_mismatch', /declared/);
    const huge = new Uint8Array(SHARD_BODY_LIMIT + 1);
    await expectRefused(() => putShard(token, hash, huge), 413, 'payload_too_large');
    await expectRefused(() => call('/api/shards/XYZ', { method: 'PUT', token, body: bytes }), 400, 'bad_request', /hash/);
  });

  it('refuses to commit a version whose shards are missing, naming them', async () => {
    const { token } = await newToken();
    const slug = await createPair(token);
    const ckpt = await tinyCheckpoint(15);
    await declare(token, slug, ckpt.manifest);
    const [[h1, b1], [h2]] = [...ckpt.shards];
    await putShard(token, h1, b1);
    const msg = await expectRefused(() => call(`/api/pairs/${slug}/versions/1/commit`, { method: 'POST', token }), 409, 'shards_missing', new RegExp(h2));
    expect(msg).not.toContain(h1);
    const row = await env.DB.prepare('SELECT current_version FROM pairs WHERE slug = ?').bind(slug).first();
    expect(row).toEqual({ current_version: null });
    await expectRefused(() => call(`/api/pairs/${slug}/versions/9/commit`, { method: 'POST', token }), 404, 'not_found', /version 9/);
    await expectRefused(() => call(`/api/pairs/${slug}/versions/zero/commit`, { method: 'POST', token }), 400, 'bad_request', /number/);
  });

  it('answers 404 for unknown pairs and versions', async () => {
    const { token } = await newToken();
    const slug = await createPair(token);
    await expectRefused(() => call('/api/pairs/nope-nope/versions/current'), 404, 'not_found');
    await expectRefused(() => call(`/api/pairs/${slug}/versions/current`), 404, 'not_found');
    await expectRefused(() => call(`/api/pairs/${slug}/versions/3`), 404, 'not_found');
    await expectRefused(() => call('/api/pairs/nope-nope/versions'), 404, 'not_found');
  });
});

describe('serving shards', () => {
  async function published() {
    const { token } = await newToken();
    const slug = await createPair(token);
    const ckpt = await tinyCheckpoint(20);
    await publish(token, slug, ckpt);
    const [hash, bytes] = [...ckpt.shards][0];
    return { hash, bytes };
  }

  it('streams a shard with immutable caching, a strong ETag and its length', async () => {
    const { hash, bytes } = await published();
    const res = await call(`/api/shards/${hash}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('Cache-Control')).toBe('public, max-age=31536000, immutable');
    expect(res.headers.get('ETag')).toBe(`"${hash}"`);
    expect(res.headers.get('Content-Length')).toBe(String(bytes.length));
    expect(res.headers.get('Accept-Ranges')).toBe('bytes');
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
  });

  it('answers 304 to a second GET with the ETag', async () => {
    const { hash } = await published();
    const first = await call(`/api/shards/${hash}`);
    const etag = first.headers.get('ETag')!;
    await first.arrayBuffer();
    const second = await call(`/api/shards/${hash}`, { headers: { 'If-None-Match': etag } });
    expect(second.status).toBe(304);
    expect(second.headers.get('ETag')).toBe(etag);
    expect((await second.arrayBuffer()).byteLength).toBe(0);
    const stale = await call(`/api/shards/${hash}`, { headers: { 'If-None-Match': '"0000"' } });
    expect(stale.status).toBe(200);
    await stale.arrayBuffer();
  });

  it('answers 206 with the right bytes to a Range request', async () => {
    const { hash, bytes } = await published();
    const res = await call(`/api/shards/${hash}`, { headers: { Range: 'bytes=100-199' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('Content-Range')).toBe(`bytes 100-199/${bytes.length}`);
    expect(res.headers.get('Content-Length')).toBe('100');
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes.slice(100, 200));
    const tail = await call(`/api/shards/${hash}`, { headers: { Range: 'bytes=-10' } });
    expect(tail.status).toBe(206);
    expect(new Uint8Array(await tail.arrayBuffer())).toEqual(bytes.slice(bytes.length - 10));
    const open = await call(`/api/shards/${hash}`, { headers: { Range: `bytes=${bytes.length - 5}-` } });
    expect(new Uint8Array(await open.arrayBuffer())).toEqual(bytes.slice(bytes.length - 5));
    const outside = await call(`/api/shards/${hash}`, { headers: { Range: `bytes=${bytes.length}-` } });
    expect(outside.status).toBe(416);
    expect(outside.headers.get('Content-Range')).toBe(`bytes */${bytes.length}`);
    await outside.arrayBuffer();
  });

  it('answers HEAD with the length and no body, and 404 for an unknown shard', async () => {
    const { hash, bytes } = await published();
    const head = await call(`/api/shards/${hash}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('Content-Length')).toBe(String(bytes.length));
    await expectRefused(() => call(`/api/shards/${'0'.repeat(64)}`), 404, 'not_found');
    const missingHead = await call(`/api/shards/${'0'.repeat(64)}`, { method: 'HEAD' });
    expect(missingHead.status).toBe(404);
  });
});
