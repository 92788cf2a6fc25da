import { createRoute } from '@hono/zod-openapi';
import { TokenCreateSchema, TokenSchema } from '../../shared/api/tokens.ts';
import { ApiError } from '../errors.ts';
import { JSON_BODY_LIMIT, sizeLimit } from '../middleware.ts';
import { hit, limitFrom } from '../rate-limit.ts';
import { Registry } from '../registry.ts';
import { issueToken } from '../tokens.ts';
import { errors, newRouter } from './common.ts';

export const tokens = newRouter();

tokens.openapi(
  createRoute({
    method: 'post',
    path: '/tokens',
    summary: 'Issue an API token (the creator of a pair becomes its owner)',
    middleware: [sizeLimit(JSON_BODY_LIMIT, 'a token request')] as const,
    request: { body: { required: true, content: { 'application/json': { schema: TokenCreateSchema } } } },
    responses: {
      201: { content: { 'application/json': { schema: TokenSchema } }, description: 'The token; shown once' },
      400: errors[400],
      429: errors[429],
    },
  }),
  async (c) => {
    const { name } = c.req.valid('json');
    // Tokens are free to mint, so per-token write limits only hold if minting is limited per address.
    const limit = limitFrom(c.env.TOKENS_PER_HOUR, 30);
    const addr = c.req.header('CF-Connecting-IP') ?? 'local';
    const d = await hit(c.env.DB, `ip:${addr}`, limit, 3600);
    if (!d.ok)
      throw new ApiError(429, 'rate_limited', `at most ${limit} tokens per hour from one address; retry in ${d.retryAfter} s`, {
        'Retry-After': String(d.retryAfter),
      });
    const t = await issueToken(c.env.TOKEN_SECRET);
    await new Registry(c.env.DB).addToken(t.id, name);
    return c.json(t, 201);
  },
);
