import { createRoute, z } from '@hono/zod-openapi';
import {
  PairCreateSchema,
  PairForkSchema,
  PairListQuerySchema,
  PairListSchema,
  PairSchema,
  PairUpdateSchema,
  SlugSchema,
} from '../../shared/api/pairs.ts';
import { ApiError, badRequest, notFound } from '../errors.ts';
import { assertOwner, JSON_BODY_LIMIT, requireToken, sizeLimit, writeLimit } from '../middleware.ts';
import { Registry } from '../registry.ts';
import { bearer, errors, json, newRouter } from './common.ts';

export const pairs = newRouter();
const SlugParam = z.object({ slug: SlugSchema });

pairs.openapi(
  createRoute({
    method: 'get',
    path: '/pairs',
    operationId: 'listPairs',
    tags: ['pairs'],
    summary: 'List pairs (translatable first, then with sample pictures, newest first within each), with a text filter',
    description: 'Cursor pages: pass the previous page\'s `next` as `cursor`. An empty `limit=` means the default (20).',
    security: [],
    request: { query: PairListQuerySchema },
    responses: { 200: json(PairListSchema, 'A page of pairs'), 400: errors[400] },
  }),
  async (c) => {
    const { q, limit, cursor } = c.req.valid('query');
    const page = await new Registry(c.env.DB).listPairs(q, limit, cursor);
    if (page === 'bad_cursor') throw badRequest('query field "cursor": not a cursor this API issued');
    return c.json(page, 200);
  },
);

pairs.openapi(
  createRoute({
    method: 'post',
    path: '/pairs',
    operationId: 'createPair',
    tags: ['pairs'],
    summary: 'Create a pair; the token becomes its owner',
    description: 'Text fields refuse control characters, bidirectional overrides and invisible-only strings.',
    security: bearer,
    middleware: [requireToken, writeLimit, sizeLimit(JSON_BODY_LIMIT, 'a pair')] as const,
    request: { body: { required: true, content: { 'application/json': { schema: PairCreateSchema } } } },
    responses: { 201: json(PairSchema, 'The new pair'), 400: errors[400], 401: errors[401], 409: errors[409], 413: errors[413], 429: errors[429] },
  }),
  async (c) => {
    const body = c.req.valid('json');
    const registry = new Registry(c.env.DB);
    if (!(await registry.createPair({ ...body, description: body.description ?? '' }, c.var.tokenId)))
      throw new ApiError(409, 'conflict', `the slug "${body.slug}" is taken`);
    return c.json((await registry.getPair(body.slug))!, 201);
  },
);

pairs.openapi(
  createRoute({
    method: 'get',
    path: '/pairs/{slug}',
    operationId: 'getPair',
    tags: ['pairs'],
    summary: 'Get one pair',
    description: 'With its current version, lineage and sample image URLs.',
    security: [],
    request: { params: SlugParam },
    responses: { 200: json(PairSchema, 'The pair'), 400: errors[400], 404: errors[404] },
  }),
  async (c) => {
    const { slug } = c.req.valid('param');
    const pair = await new Registry(c.env.DB).getPair(slug);
    if (!pair) throw notFound(`no pair "${slug}"`);
    return c.json(pair, 200);
  },
);

pairs.openapi(
  createRoute({
    method: 'patch',
    path: '/pairs/{slug}',
    operationId: 'updatePair',
    tags: ['pairs'],
    summary: "Change a pair's title, domains, description or licence (owner only)",
    description: 'Give at least one field; the others keep their values.',
    security: bearer,
    middleware: [requireToken, writeLimit, sizeLimit(JSON_BODY_LIMIT, 'a pair update')] as const,
    request: { params: SlugParam, body: { required: true, content: { 'application/json': { schema: PairUpdateSchema } } } },
    responses: { 200: json(PairSchema, 'The updated pair'), 400: errors[400], 401: errors[401], 403: errors[403], 404: errors[404], 413: errors[413], 429: errors[429] },
  }),
  async (c) => {
    const { slug } = c.req.valid('param');
    const registry = new Registry(c.env.DB);
    await assertOwner(registry, slug, c.var.tokenId);
    await registry.updatePair(slug, c.req.valid('json'));
    return c.json((await registry.getPair(slug))!, 200);
  },
);

pairs.openapi(
  createRoute({
    method: 'post',
    path: '/pairs/{slug}/fork',
    operationId: 'forkPair',
    tags: ['pairs'],
    summary: 'Fork a pair',
    description: 'A new pair owned by the caller, pointing at the source; its version 1 is the source\'s current manifest (no bytes are copied).',
    security: bearer,
    middleware: [requireToken, writeLimit, sizeLimit(JSON_BODY_LIMIT, 'a fork request')] as const,
    request: { params: SlugParam, body: { required: true, content: { 'application/json': { schema: PairForkSchema } } } },
    responses: { 201: json(PairSchema, 'The fork'), 400: errors[400], 401: errors[401], 404: errors[404], 409: errors[409], 413: errors[413], 429: errors[429] },
  }),
  async (c) => {
    const { slug } = c.req.valid('param');
    const body = c.req.valid('json');
    const registry = new Registry(c.env.DB);
    const src = await registry.getPair(slug);
    if (!src) throw notFound(`no pair "${slug}"`);
    if (!(await registry.forkPair(src, body.slug, body.title, c.var.tokenId)))
      throw new ApiError(409, 'conflict', `the slug "${body.slug}" is taken`);
    return c.json((await registry.getPair(body.slug))!, 201);
  },
);
