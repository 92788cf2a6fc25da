/** Gallery images: a few small pictures per domain, so a pair's page shows what it does. */
import { createRoute, z } from '@hono/zod-openapi';
import { DOMAINS, MAX_SAMPLE_BYTES, MAX_SAMPLE_SIDE, MAX_SAMPLES_PER_DOMAIN, SAMPLE_TYPES, SlugSchema } from '../../shared/api/pairs.ts';
import { decimal } from '../../shared/api/params.ts';
import { ApiError, notFound } from '../errors.ts';
import { sniffImage } from '../images.ts';
import { assertOwner, requireToken, sizeLimit, writeLimit } from '../middleware.ts';
import { Registry } from '../registry.ts';
import { Storage } from '../storage.ts';
import { bearer, errors, newRouter } from './common.ts';

export const samples = newRouter();
const SampleParam = z.object({
  slug: SlugSchema,
  domain: z.enum(DOMAINS),
  index: decimal(0, MAX_SAMPLES_PER_DOMAIN - 1),
});
const image = z.string().openapi({ format: 'binary' });

samples.openapi(
  createRoute({
    method: 'get',
    path: '/pairs/{slug}/samples/{domain}/{index}',
    operationId: 'getSample',
    tags: ['samples'],
    summary: 'A sample image of one domain of a pair',
    description: 'Served with the content type sniffed from its bytes when it was stored.',
    security: [],
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
    operationId: 'putSample',
    tags: ['samples'],
    summary: 'Set a sample image (owner only)',
    description: 'PNG, JPEG or WebP, at most 256 KiB and 4096 px a side. The bytes must be the declared format (checked from their header).',
    security: bearer,
    middleware: [requireToken, writeLimit, sizeLimit(MAX_SAMPLE_BYTES, 'a sample image')] as const,
    request: { params: SampleParam, body: { content: Object.fromEntries(SAMPLE_TYPES.map((t) => [t, { schema: image }])) } },
    responses: { 204: { description: 'Stored' }, 400: errors[400], 401: errors[401], 403: errors[403], 404: errors[404], 413: errors[413], 415: errors[415], 429: errors[429] },
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
    // The bytes decide what is stored and served, never the header alone.
    const sniffed = sniffImage(new Uint8Array(bytes));
    if (!sniffed.ok) throw new ApiError(415, 'unsupported_media_type', `the body was sent as ${type} but ${sniffed.reason}`);
    const { image } = sniffed;
    if (image.type !== type)
      throw new ApiError(415, 'unsupported_media_type', `the body was sent as ${type} but its bytes are ${image.type}; send it as ${image.type}`);
    if (image.width > MAX_SAMPLE_SIDE || image.height > MAX_SAMPLE_SIDE)
      throw new ApiError(400, 'bad_request', `a sample may be at most ${MAX_SAMPLE_SIDE} px a side; this one is ${image.width}×${image.height}`);
    await new Storage(c.env.WEIGHTS).putSample(slug, domain, index, bytes, image.type);
    await registry.recordSample(slug, domain, index, image.type, bytes.byteLength);
    return c.body(null, 204);
  },
);
