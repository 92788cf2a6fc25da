/**
 * The round's HTTP face: thin routes that validate the request, find the pair's PairRound
 * Durable Object by slug and call its typed RPC methods. Refusals come back as values and become
 * ApiErrors here, with the reason first in the message (`lease_expired: …`).
 */
import { createRoute, z } from '@hono/zod-openapi';
import { SlugSchema } from '../../shared/api/pairs.ts';
import { decimal } from '../../shared/api/params.ts';
import type { ErrorCode } from '../../shared/api/errors.ts';
import {
  CommitReceiptSchema,
  CommitRequestSchema,
  ContributionStatusSchema,
  HistoryPageSchema,
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
import type { Refusal, RoundResult } from './admission.ts';

export const rounds = newRouter();

const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { 'application/json': { schema } }, description });
const SlugParam = z.object({ slug: SlugSchema });
const LeaseParam = z.object({ slug: SlugSchema, lease: z.string().uuid() });
const ShardParam = LeaseParam.extend({ net: NetworkSchema, index: decimal(0, 1000) });
const COMMIT_BODY_LIMIT = 64 * 1024;

function stub(c: Context<AppEnv>, slug: string) {
  return c.env.ROUNDS.get(c.env.ROUNDS.idFromName(slug));
}

/** Every refusal's HTTP status and error code: decided here, not in the Durable Object. */
const REFUSAL: Record<Refusal['reason'], { status: 400 | 404 | 409 | 410 | 422 | 429 | 503; code: ErrorCode }> = {
  unknown_lease: { status: 404, code: 'not_found' },
  lease_expired: { status: 410, code: 'conflict' },
  stale_base: { status: 409, code: 'conflict' },
  round_closed: { status: 409, code: 'conflict' },
  already_committed: { status: 409, code: 'conflict' },
  bad_shard_index: { status: 400, code: 'bad_request' },
  size_mismatch: { status: 400, code: 'size_mismatch' },
  hash_mismatch: { status: 400, code: 'hash_mismatch' },
  not_finite: { status: 422, code: 'bad_request' },
  missing_shards: { status: 400, code: 'shards_missing' },
  wrong_shape: { status: 400, code: 'bad_request' },
  norm_mismatch: { status: 422, code: 'bad_request' },
  norm_too_large: { status: 422, code: 'bad_request' },
  bad_counts: { status: 400, code: 'bad_request' },
  round_full: { status: 409, code: 'conflict' },
  lease_limit: { status: 429, code: 'rate_limited' },
  no_validation_set: { status: 409, code: 'conflict' },
  no_version: { status: 409, code: 'conflict' },
  bad_config: { status: 400, code: 'bad_request' },
  busy: { status: 409, code: 'conflict' },
};

function unwrap<T>(r: RoundResult<T>): T {
  if (r.ok) return r.value;
  const { status, code } = REFUSAL[r.reason];
  throw new ApiError(status, code, `${r.reason}: ${r.message}`);
}

async function requirePair(c: Context<AppEnv>, slug: string): Promise<void> {
  if (!(await new Registry(c.env.DB).getPair(slug))) throw notFound(`no pair "${slug}"`);
}

rounds.openapi(
  createRoute({
    method: 'get',
    path: '/pairs/{slug}/round',
    operationId: 'getRound',
    tags: ['rounds'],
    description: "The round's phase, its schedule and why, distinct contributors, leases still out, the pair's validation counts, the settings, and the latest history and refusals.",
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
    operationId: 'configureRound',
    tags: ['rounds'],
    description: "Patches the round's settings; they apply from the next lease. Bounds: outer lr ≤ 2, leasesPerToken 1–4, maxLeases 1–256.",
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
    operationId: 'takeLease',
    tags: ['rounds'],
    description: "Opens a round on the pair's current version when none is open (the pair needs validation images), and leases it: one lease per token per round.",
    summary: 'Take a lease: the base version and the settings to train with',
    security: bearer,
    middleware: [requireToken, writeLimit, sizeLimit(JSON_BODY_LIMIT, 'a lease request')] as const,
    request: { params: SlugParam, body: { required: false, content: { 'application/json': { schema: LeaseRequestSchema } } } },
    responses: {
      201: json(LeaseSchema, 'The lease'),
      401: errors[401],
      404: errors[404],
      409: { ...errors[409], description: 'No round can open (no version, no validation set, busy closing) or the round is full' },
      429: { ...errors[429], description: 'This token already holds its lease in this round, or writes too fast' },
    },
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
    operationId: 'uploadDelta',
    tags: ['rounds'],
    description: "Stores one float16 shard of a network's delta in the lease's slot (a re-upload replaces it), after checking its size, hash and values.",
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
      410: errors[410],
      413: errors[413],
      422: errors[422],
      429: errors[429],
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
    operationId: 'commitLease',
    tags: ['rounds'],
    description: "Commits the uploaded delta: every shard present with the named hash, counts and norms within what the lease's training can do.",
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
      410: errors[410],
      422: errors[422],
    },
  }),
  async (c) => {
    const { slug, lease } = c.req.valid('param');
    return c.json(unwrap(await stub(c, slug).commit(lease, c.var.tokenId, c.req.valid('json'))), 200);
  },
);

rounds.openapi(
  createRoute({
    method: 'get',
    path: '/pairs/{slug}/round/leases/{lease}',
    operationId: 'getContribution',
    tags: ['rounds'],
    description: "The caller's contribution: leased, committed, merged into a version that became current, not merged (with the quality gate's reasons), or expired.",
    summary: "Where one of your contributions stands: committed, merged into a version, or not merged and why",
    security: bearer,
    middleware: [requireToken] as const,
    request: { params: LeaseParam },
    responses: { 200: json(ContributionStatusSchema, 'The contribution'), 401: errors[401], 404: errors[404] },
  }),
  async (c) => {
    const { slug, lease } = c.req.valid('param');
    return c.json(unwrap(await stub(c, slug).contribution(lease, c.var.tokenId)), 200);
  },
);

const HistoryQuery = z.object({
  before: decimal(1, Number.MAX_SAFE_INTEGER).optional(),
  limit: decimal(1, 200).optional(),
});

rounds.openapi(
  createRoute({
    method: 'get',
    path: '/pairs/{slug}/round/history',
    operationId: 'getRoundHistory',
    tags: ['rounds'],
    description: 'Accepted contributions, candidates, gate verdicts, extensions, abandonments and rollbacks, newest first.',
    summary: "The round's history, newest first, a page at a time (`next` is the `before` of the next page)",
    request: { params: SlugParam, query: HistoryQuery },
    responses: { 200: json(HistoryPageSchema, 'A page of history'), 400: errors[400], 404: errors[404] },
  }),
  async (c) => {
    const { slug } = c.req.valid('param');
    const { before, limit } = c.req.valid('query');
    await requirePair(c, slug);
    return c.json(await stub(c, slug).history(before, limit ?? 50), 200);
  },
);
