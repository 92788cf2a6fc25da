/**
 * The round's HTTP face: thin routes that validate the request, find the pair's PairRound
 * Durable Object by slug and call its typed RPC methods. Refusals come back as values and become
 * ApiErrors here, with the reason first in the message (`lease_expired: …`).
 */
import { createRoute, z } from '@hono/zod-openapi';
import { SlugSchema } from '../../shared/api/pairs.ts';
import type { ErrorCode } from '../../shared/api/errors.ts';
import {
  CommitReceiptSchema,
  CommitRequestSchema,
  LeaseRequestSchema,
  LeaseSchema,
  NetworkSchema,
  RoundConfigPatchSchema,
  RoundStatusSchema,
  UploadReceiptSchema,
} from '../../shared/rounds/protocol.ts';
import { MAX_SHARD_BYTES } from '../../shared/weights/format.ts';
import { ApiError, notFound } from '../errors.ts';
import { assertOwner, JSON_BODY_LIMIT, requireToken, sizeLimit, writeLimit } from '../middleware.ts';
import { Registry } from '../registry.ts';
import { bearer, errors, newRouter } from '../routes/common.ts';
import type { AppEnv } from '../env.ts';
import type { Context } from 'hono';
import type { Refusal, RoundResult } from './pair-round.ts';

export const rounds = newRouter();

const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { 'application/json': { schema } }, description });
const SlugParam = z.object({ slug: SlugSchema });
const LeaseParam = z.object({ slug: SlugSchema, lease: z.string().uuid() });
const ShardParam = LeaseParam.extend({ net: NetworkSchema, index: z.coerce.number().int().min(0).max(1000) });
const COMMIT_BODY_LIMIT = 64 * 1024;

function stub(c: Context<AppEnv>, slug: string) {
  return c.env.ROUNDS.get(c.env.ROUNDS.idFromName(slug));
}

const CODE_FOR: Partial<Record<Refusal['reason'], ErrorCode>> = {
  hash_mismatch: 'hash_mismatch',
  size_mismatch: 'size_mismatch',
  missing_shards: 'shards_missing',
  unknown_lease: 'not_found',
};

function unwrap<T>(r: RoundResult<T>): T {
  if (r.ok) return r.value;
  const code: ErrorCode = CODE_FOR[r.reason] ?? (r.status === 409 || r.status === 410 ? 'conflict' : 'bad_request');
  throw new ApiError(r.status, code, `${r.reason}: ${r.message}`);
}

async function requirePair(c: Context<AppEnv>, slug: string): Promise<void> {
  if (!(await new Registry(c.env.DB).getPair(slug))) throw notFound(`no pair "${slug}"`);
}

rounds.openapi(
  createRoute({
    method: 'get',
    path: '/pairs/{slug}/round',
    summary: "The pair's training round: state, quorum, settings and history",
    request: { params: SlugParam },
    responses: { 200: json(RoundStatusSchema, 'The round'), 404: errors[404] },
  }),
  async (c) => {
    const { slug } = c.req.valid('param');
    await requirePair(c, slug);
    return c.json(await stub(c, slug).status(slug), 200);
  },
);

rounds.openapi(
  createRoute({
    method: 'put',
    path: '/pairs/{slug}/round/config',
    summary: "Change the round's settings (owner only; applies from the next lease)",
    security: bearer,
    middleware: [requireToken, writeLimit, sizeLimit(JSON_BODY_LIMIT, 'a round config')] as const,
    request: { params: SlugParam, body: { required: true, content: { 'application/json': { schema: RoundConfigPatchSchema } } } },
    responses: { 200: json(RoundStatusSchema, 'The round with its new settings'), 400: errors[400], 401: errors[401], 403: errors[403], 404: errors[404] },
  }),
  async (c) => {
    const { slug } = c.req.valid('param');
    await assertOwner(new Registry(c.env.DB), slug, c.var.tokenId);
    return c.json(unwrap(await stub(c, slug).configure(slug, c.req.valid('json'))), 200);
  },
);

rounds.openapi(
  createRoute({
    method: 'post',
    path: '/pairs/{slug}/round/leases',
    summary: 'Take a lease: the base version and the settings to train with',
    security: bearer,
    middleware: [requireToken, writeLimit, sizeLimit(JSON_BODY_LIMIT, 'a lease request')] as const,
    request: { params: SlugParam, body: { required: false, content: { 'application/json': { schema: LeaseRequestSchema } } } },
    responses: { 201: json(LeaseSchema, 'The lease'), 401: errors[401], 404: errors[404], 409: errors[409], 429: errors[429] },
  }),
  async (c) => {
    const { slug } = c.req.valid('param');
    await requirePair(c, slug);
    const body = c.req.header('Content-Type')?.includes('json') ? c.req.valid('json') : {};
    return c.json(unwrap(await stub(c, slug).lease(slug, c.var.tokenId, body?.name)), 201);
  },
);

rounds.openapi(
  createRoute({
    method: 'put',
    path: '/pairs/{slug}/round/leases/{lease}/deltas/{net}/{index}',
    summary: "Upload one float16 shard of a network's delta (local − base); X-Shard-Sha256 names its hash",
    security: bearer,
    middleware: [requireToken, writeLimit, sizeLimit(MAX_SHARD_BYTES, 'a delta shard')] as const,
    request: {
      params: ShardParam,
      headers: z.object({ 'x-shard-sha256': z.string().regex(/^[0-9a-f]{64}$/, 'must be the lowercase hex SHA-256 of the body') }),
      body: { content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } } },
    },
    responses: {
      200: json(UploadReceiptSchema, 'The shard was checked and stored'),
      400: errors[400],
      401: errors[401],
      404: errors[404],
      409: errors[409],
      410: { ...errors[409], description: 'The lease expired' },
      413: errors[413],
      422: { ...errors[400], description: 'Values not finite' },
    },
  }),
  async (c) => {
    const { slug, lease, net, index } = c.req.valid('param');
    const hash = c.req.valid('header')['x-shard-sha256'];
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    return c.json(unwrap(await stub(c, slug).upload(lease, c.var.tokenId, net, index, hash, bytes)), 200);
  },
);

rounds.openapi(
  createRoute({
    method: 'post',
    path: '/pairs/{slug}/round/leases/{lease}/commit',
    summary: "Commit a lease's uploaded delta with its sample count, steps, norms and losses (idempotent)",
    security: bearer,
    middleware: [requireToken, writeLimit, sizeLimit(COMMIT_BODY_LIMIT, 'a commit')] as const,
    request: { params: LeaseParam, body: { required: true, content: { 'application/json': { schema: CommitRequestSchema } } } },
    responses: {
      200: json(CommitReceiptSchema, 'Accepted (or already accepted)'),
      400: errors[400],
      401: errors[401],
      404: errors[404],
      409: errors[409],
      410: { ...errors[409], description: 'The lease expired' },
      422: { ...errors[400], description: 'Norm out of bounds' },
    },
  }),
  async (c) => {
    const { slug, lease } = c.req.valid('param');
    return c.json(unwrap(await stub(c, slug).commit(lease, c.var.tokenId, c.req.valid('json'))), 200);
  },
);
