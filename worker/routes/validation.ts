/**
 * A pair's validation images: the held-out images the quality gate measures every round's
 * candidate on (docs/gate.md). The owner uploads them already decoded, in the small format of
 * shared/gate/validation-set.ts (the CLI's `stripes validation` and the web app build it), so the
 * worker never decodes an image. They are not public: contributors who could read them could
 * train on them and game the gate, so only the owner reads them back; anyone sees the counts in
 * GET /round.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { DOMAINS, SlugSchema } from '../../shared/api/pairs.ts';
import { decodeValidationSet, VALIDATION_MAX_BYTES } from '../../shared/gate/validation-set.ts';
import { ApiError } from '../errors.ts';
import { assertOwner, requireToken, sizeLimit, writeLimit } from '../middleware.ts';
import { Registry } from '../registry.ts';
import { Storage } from '../storage.ts';
import { bearer, errors, newRouter } from './common.ts';

export const validation = newRouter();
const DomainSchema = z.enum(DOMAINS);
const Params = z.object({ slug: SlugSchema, domain: DomainSchema });

validation.openapi(
  createRoute({
    method: 'put',
    path: '/pairs/{slug}/validation/{domain}',
    operationId: 'putValidationSet',
    summary: "Replace one domain's validation images (owner only; the binary format of shared/gate/validation-set.ts)",
    security: bearer,
    middleware: [requireToken, writeLimit, sizeLimit(VALIDATION_MAX_BYTES, 'a validation set')] as const,
    request: { params: Params, body: { required: true, content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } } } },
    responses: {
      200: { content: { 'application/json': { schema: z.object({ domain: DomainSchema, count: z.number().int(), height: z.number().int(), width: z.number().int() }) } }, description: 'Stored' },
      400: errors[400],
      401: errors[401],
      403: errors[403],
      404: errors[404],
      413: errors[413],
      429: errors[429],
    },
  }),
  async (c) => {
    const { slug, domain } = c.req.valid('param');
    await assertOwner(new Registry(c.env.DB), slug, c.var.tokenId);
    const bytes = await c.req.arrayBuffer();
    let set;
    try {
      set = decodeValidationSet(new Uint8Array(bytes));
    } catch (e) {
      throw new ApiError(400, 'bad_request', `validation set ${domain}: ${(e as Error).message}`);
    }
    await new Storage(c.env.WEIGHTS).putValidation(slug, domain, bytes, set.count);
    return c.json({ domain, count: set.count, height: set.height, width: set.width }, 200);
  },
);

validation.openapi(
  createRoute({
    method: 'get',
    path: '/pairs/{slug}/validation/{domain}',
    operationId: 'getValidationSet',
    summary: "One domain's validation images as uploaded (owner only)",
    security: bearer,
    middleware: [requireToken] as const,
    request: { params: Params },
    responses: {
      200: { content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } }, description: 'The set' },
      401: errors[401],
      403: errors[403],
      404: errors[404],
    },
  }),
  async (c) => {
    const { slug, domain } = c.req.valid('param');
    await assertOwner(new Registry(c.env.DB), slug, c.var.tokenId);
    const bytes = await new Storage(c.env.WEIGHTS).getValidation(slug, domain);
    if (!bytes) throw new ApiError(404, 'not_found', `pair "${slug}" has no validation images for domain ${domain}`);
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, { 'Content-Type': 'application/octet-stream', 'Cache-Control': 'private, no-store' });
  },
);
