/** API tokens: issue one, revoke your own, and (the operator) revoke anyone's by id. */
import { createRoute, z } from '@hono/zod-openapi';
import { TokenCreateSchema, TokenIdSchema, TokenRevokedSchema, TokenSchema } from '../../shared/api/tokens.ts';
import { ApiError } from '../errors.ts';
import { JSON_BODY_LIMIT, requireAdmin, requireToken, sizeLimit, writeLimit } from '../middleware.ts';
import { hit, limitFrom } from '../rate-limit.ts';
import { Registry } from '../registry.ts';
import { TokenStore } from '../token-store.ts';
import { issueToken, tokenTtlSeconds } from '../tokens.ts';
import { admin, bearer, errors, json, newRouter } from './common.ts';

export const tokens = newRouter();

tokens.openapi(
  createRoute({
    method: 'post',
    path: '/tokens',
    operationId: 'createToken',
    tags: ['tokens'],
    summary: 'Issue an API token (the creator of a pair becomes its owner)',
    description:
      'Limited per client address per hour (TOKENS_PER_HOUR). The token expires after TOKEN_TTL_DAYS (90 by default); `expiresAt` says when.',
    security: [],
    middleware: [sizeLimit(JSON_BODY_LIMIT, 'a token request')] as const,
    request: { body: { required: true, content: { 'application/json': { schema: TokenCreateSchema } } } },
    responses: {
      201: json(TokenSchema, 'The token; shown once'),
      400: errors[400],
      413: errors[413],
      429: errors[429],
    },
  }),
  async (c) => {
    const { name } = c.req.valid('json');
    // Tokens are free to mint, so per-token write limits only hold if minting is limited per address.
    // CF-Connecting-IP is set by Cloudflare's edge; on a local run there is none (worker/README.md).
    const limit = limitFrom(c.env.TOKENS_PER_HOUR, 30);
    const addr = c.req.header('CF-Connecting-IP') ?? 'local';
    const d = await hit(c.env.DB, `ip:${addr}`, limit, 3600);
    if (!d.ok)
      throw new ApiError(429, 'rate_limited', `at most ${limit} tokens per hour from one address; retry in ${d.retryAfter} s`, {
        'Retry-After': String(d.retryAfter),
      });
    const t = await issueToken(c.env.TOKEN_SECRET, tokenTtlSeconds(c.env.TOKEN_TTL_DAYS));
    await new Registry(c.env.DB).addToken(t.id, name);
    return c.json(t, 201);
  },
);

tokens.openapi(
  createRoute({
    method: 'delete',
    path: '/tokens/self',
    operationId: 'revokeOwnToken',
    tags: ['tokens'],
    summary: 'Revoke the token that makes this request',
    description: 'From then on the token answers 401 `token_revoked`. Pairs it owns keep their owner id; no other token can act for it.',
    security: bearer,
    middleware: [requireToken, writeLimit] as const,
    responses: { 200: json(TokenRevokedSchema, 'Revoked'), 401: errors[401], 429: errors[429] },
  }),
  async (c) => {
    const { revokedAt } = await new TokenStore(c.env.DB).revoke(c.var.tokenId, 'holder');
    return c.json({ id: c.var.tokenId, revokedAt }, 200);
  },
);

tokens.openapi(
  createRoute({
    method: 'delete',
    path: '/admin/tokens/{id}',
    operationId: 'revokeTokenAsOperator',
    tags: ['admin'],
    summary: 'Revoke any token by its public id (operator only)',
    description:
      'Needs `Authorization: Bearer <ADMIN_SECRET>` (a wrangler secret). Without ADMIN_SECRET the route is off and answers 404. Revoking twice keeps the first record.',
    security: admin,
    middleware: [requireAdmin] as const,
    request: { params: z.object({ id: TokenIdSchema }) },
    responses: { 200: json(TokenRevokedSchema, 'Revoked'), 400: errors[400], 401: errors[401], 404: errors[404] },
  }),
  async (c) => {
    const { id } = c.req.valid('param');
    const { revokedAt } = await new TokenStore(c.env.DB).revoke(id, 'operator');
    return c.json({ id, revokedAt }, 200);
  },
);
