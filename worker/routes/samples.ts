/** Gallery images: a few small pictures per domain, so a pair's page shows what it does. */
import { createRoute, z } from '@hono/zod-openapi';
import { DOMAINS, MAX_SAMPLE_BYTES, MAX_SAMPLES_PER_DOMAIN, SAMPLE_TYPES, SlugSchema } from '../../shared/api/pairs.ts';
import { ApiError, notFound } from '../errors.ts';
import { assertOwner, requireToken, sizeLimit, writeLimit } from '../middleware.ts';
import { Registry } from '../registry.ts';
import { Storage } from '../storage.ts';
import { bearer, errors, newRouter } from './common.ts';

export const samples = newRouter();
const SampleParam = z.object({
  slug: SlugSchema,
  domain: z.enum(DOMAINS),
  index: z.coerce.number().int().min(0).max(MAX_SAMPLES_PER_DOMAIN - 1),
});
const image = z.string().openapi({ format: 'binary' });

samples.openapi(
  createRoute({
    method: 'get',
    path: '/pairs/{slug}/samples/{domain}/{index}',
    summary: 'A sample image of one domain of a pair',
    request: { params: SampleParam },
    responses: { 200: { content: { 'image/*': { schema: image } }, description: 'The image' }, 400: errors[400], 404: errors[404] },
  }),
  async (c) => {
    const { slug, domain, index } = c.req.valid('param');
    const obj = await new Storage(c.env.WEIGHTS).getSample(slug, domain, index);
    if (!obj) throw notFound(`pair "${slug}" has no sample ${domain}/${index}`);
    return c.body(obj.body, 200, {
      'Content-Type': obj.contentType ?? 'application/octet-stream',
      'Content-Length': String(obj.size),
      'Cache-Control': 'public, max-age=300',
    });
  },
);

samples.openapi(
  createRoute({
    method: 'put',
    path: '/pairs/{slug}/samples/{domain}/{index}',
    summary: 'Set a sample image (PNG, JPEG or WebP, at most 256 KiB; owner only)',
    security: bearer,
    middleware: [requireToken, writeLimit, sizeLimit(MAX_SAMPLE_BYTES, 'a sample image')] as const,
    request: { params: SampleParam, body: { content: Object.fromEntries(SAMPLE_TYPES.map((t) => [t, { schema: image }])) } },
    responses: { 204: { description: 'Stored' }, 400: errors[400], 401: errors[401], 403: errors[403], 404: errors[404], 413: errors[413], 415: errors[400] },
  }),
  async (c) => {
    const { slug, domain, index } = c.req.valid('param');
    const registry = new Registry(c.env.DB);
    await assertOwner(registry, slug, c.var.tokenId);
    const type = (c.req.header('Content-Type') ?? '').split(';')[0].trim();
    if (!(SAMPLE_TYPES as readonly string[]).includes(type))
      throw new ApiError(415, 'unsupported_media_type', `a sample must be ${SAMPLE_TYPES.join(', ')}; got "${type}"`);
    const bytes = await c.req.arrayBuffer();
    if (bytes.byteLength === 0) throw new ApiError(400, 'bad_request', 'the sample image is empty');
    await new Storage(c.env.WEIGHTS).putSample(slug, domain, index, bytes, type);
    await registry.recordSample(slug, domain, index, type, bytes.byteLength);
    return c.body(null, 204);
  },
);
