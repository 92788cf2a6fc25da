/**
 * Content-addressed weight shards. A shard's name is the SHA-256 of its bytes, so a GET can be
 * cached forever and an upload is verified against its own name.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { SHARD_BODY_LIMIT, Sha256Schema, ShardPutSchema } from '../../shared/api/versions.ts';
import { MAX_SHARD_BYTES } from '../../shared/weights/format.ts';
import { ApiError, notFound } from '../errors.ts';
import { requireToken, sizeLimit, writeLimit } from '../middleware.ts';
import { Registry } from '../registry.ts';
import { type ByteRange, Storage } from '../storage.ts';
import { bearer, errors, newRouter } from './common.ts';

export const shards = newRouter();
const HashParam = z.object({ hash: Sha256Schema });
const IMMUTABLE = 'public, max-age=31536000, immutable';

/** One `bytes=` range against an object of `size` bytes; null means "serve it whole" (absent, multi-range or unparsable). */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    const length = Math.min(suffix, size);
    return { offset: size - length, length };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { offset: start, length: end - start + 1 };
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const v = t.trim();
    return v === '*' || v === etag || v === `W/${etag}`;
  });
}

shards.openapi(
  createRoute({
    method: 'get',
    path: '/shards/{hash}',
    operationId: 'getShard',
    tags: ['shards'],
    summary: 'A weight shard by its SHA-256',
    description: 'Immutable: the ETag is the hash. If-None-Match → 304; one `Range` → 206. HEAD gives the size.',
    security: [],
    request: { params: HashParam },
    responses: {
      200: { content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } }, description: 'The shard' },
      206: { content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } }, description: 'A byte range of the shard' },
      304: { description: 'Not modified (the ETag is the hash, so it always is once cached)' },
      400: errors[400],
      404: errors[404],
      416: errors[416],
    },
  }),
  async (c) => {
    const { hash } = c.req.valid('param');
    const storage = new Storage(c.env.WEIGHTS);
    const etag = `"${hash}"`;
    const common = { ETag: etag, 'Cache-Control': IMMUTABLE, 'Accept-Ranges': 'bytes' };
    const rangeHeader = c.req.header('Range');
    const conditional = etagMatches(c.req.header('If-None-Match'), etag);
    if (conditional || c.req.method === 'HEAD' || rangeHeader) {
      const size = await storage.shardSize(hash);
      if (size === null) throw notFound(`no shard ${hash}`);
      if (conditional) return c.body(null, 304, common);
      if (c.req.method === 'HEAD') return c.body(null, 200, { ...common, 'Content-Length': String(size), 'Content-Type': 'application/octet-stream' });
      const range = parseRange(rangeHeader, size);
      if (range === 'unsatisfiable')
        return c.json({ error: { code: 'range_not_satisfiable' as const, message: `range "${rangeHeader}" is outside the shard's ${size} bytes` } }, 416, {
          'Content-Range': `bytes */${size}`,
        });
      if (range) {
        const obj = await storage.getShard(hash, range);
        if (!obj) throw notFound(`no shard ${hash}`);
        return c.body(obj.body, 206, {
          ...common,
          'Content-Type': 'application/octet-stream',
          'Content-Length': String(range.length),
          'Content-Range': `bytes ${range.offset}-${range.offset + range.length - 1}/${size}`,
        });
      }
    }
    const obj = await storage.getShard(hash);
    if (!obj) throw notFound(`no shard ${hash}`);
    return c.body(obj.body, 200, { ...common, 'Content-Type': 'application/octet-stream', 'Content-Length': String(obj.size) });
  },
);

shards.openapi(
  createRoute({
    method: 'put',
    path: '/shards/{hash}',
    operationId: 'putShard',
    tags: ['shards'],
    summary: 'Upload a weight shard',
    description: "The shard must be named by a pending version of one of the caller's pairs; Content-Length must be its declared size and the bytes must hash to the name. Twice is harmless.",
    security: bearer,
    middleware: [requireToken, writeLimit, sizeLimit(SHARD_BODY_LIMIT, 'a shard')] as const,
    request: {
      params: HashParam,
      body: { content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } } },
    },
    responses: {
      201: { content: { 'application/json': { schema: ShardPutSchema } }, description: 'Stored' },
      200: { content: { 'application/json': { schema: ShardPutSchema } }, description: 'Already stored; nothing written' },
      400: errors[400],
      401: errors[401],
      403: errors[403],
      411: errors[411],
      413: errors[413],
      429: errors[429],
    },
  }),
  async (c) => {
    const { hash } = c.req.valid('param');
    const registry = new Registry(c.env.DB);
    const storage = new Storage(c.env.WEIGHTS);
    const declared = await registry.declaredShardSize(hash, c.var.tokenId);
    if (declared === null)
      throw new ApiError(403, 'shard_not_declared', `no pending version of a pair you own names shard ${hash}: declare the manifest first (POST /api/pairs/{slug}/versions)`);
    const lengthHeader = c.req.header('Content-Length');
    if (lengthHeader === undefined) throw new ApiError(411, 'length_required', 'a shard upload needs a Content-Length header');
    const length = Number(lengthHeader);
    if (length > MAX_SHARD_BYTES) throw new ApiError(413, 'payload_too_large', `a shard may be at most ${MAX_SHARD_BYTES} bytes, got ${length}`);
    if (length !== declared)
      throw new ApiError(400, 'size_mismatch', `shard ${hash} is declared as ${declared} bytes but the upload is ${length} bytes`);
    if ((await storage.shardSize(hash)) === declared) return c.json({ hash, size: declared, created: false }, 200);
    // At most 4 MiB: hashing it whole is cheaper than teeing the stream, and nothing is written unverified.
    const bytes = await c.req.arrayBuffer();
    if (bytes.byteLength !== declared)
      throw new ApiError(400, 'size_mismatch', `shard ${hash}: received ${bytes.byteLength} bytes, declared ${declared}`);
    const digest = [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
    if (digest !== hash) throw new ApiError(400, 'hash_mismatch', `the bytes hash to ${digest}, not to their name ${hash}`);
    await storage.putShard(hash, bytes);
    return c.json({ hash, size: declared, created: true }, 201);
  },
);
