/**
 * Serves the OpenAPI 3.1 document generated from the route validators (the same zod schemas
 * shared/api exports). test/unit/openapi.test.ts validates it and lints it with Redocly's
 * recommended rules.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from './env.ts';

export const OPENAPI_TAGS = [
  { name: 'tokens', description: 'API tokens: issue, revoke.' },
  { name: 'pairs', description: 'The pair registry: create, list, update, fork.' },
  { name: 'versions', description: 'Versions of a pair: declare a manifest, upload its shards, commit.' },
  { name: 'shards', description: 'Content-addressed weight shards (immutable).' },
  { name: 'samples', description: 'Gallery images of a pair.' },
  { name: 'rounds', description: "A pair's community training round: leases, delta uploads, commits." },
  { name: 'admin', description: "The operator's routes (ADMIN_SECRET)." },
];

export function mountOpenApi(app: OpenAPIHono<AppEnv>, path: string): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'Bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'A token from POST /api/tokens (`stp_…`); it expires (see `expiresAt`) and can be revoked.',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'AdminSecret', {
    type: 'http',
    scheme: 'bearer',
    description: "The deployment's ADMIN_SECRET (operator routes only).",
  });
  app.get(path, (c) => {
    const doc = app.getOpenAPI31Document({
      openapi: '3.1.0',
      info: {
        title: 'Stripes API',
        version: '1',
        description: 'CycleGAN style pairs: registry, versions, content-addressed weight shards and community training rounds.',
        license: { name: 'MIT', url: 'https://opensource.org/license/mit' },
      },
      // The server that answered: the document describes the deployment it came from.
      servers: [{ url: new URL(c.req.url).origin, description: 'This deployment' }],
      tags: OPENAPI_TAGS,
    });
    return c.json(completeOperations(doc as unknown as OpenApiDoc), 200);
  });
}

type Operation = {
  operationId?: string;
  tags?: string[];
  security?: unknown[];
  parameters?: Array<{ in?: string; required?: boolean; schema?: { type?: string | string[] } }>;
};
type OpenApiDoc = { paths?: Record<string, Record<string, Operation>> };
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/**
 * Fills in what a route left out, so every operation is complete whoever wrote it: an
 * operationId from its method and path (`put /api/pairs/{slug}/round/config` →
 * `putPairsRoundConfig`), a tag from its first path segment, `security: []` when it is public,
 * and `required: true` on every path parameter (OpenAPI requires it), never nullable.
 */
export function completeOperations<T extends OpenApiDoc>(doc: T): T {
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const segments = path.split('/').filter((s) => s && s !== 'api' && !s.startsWith('{'));
      op.operationId ??= method + segments.map((s) => s.replace(/(^|[-_])(\w)/g, (_, __, ch: string) => ch.toUpperCase())).join('');
      if (!op.tags?.length) op.tags = [segments.includes('round') ? 'rounds' : (segments[0] ?? 'api')];
      op.security ??= [];
      for (const p of op.parameters ?? []) {
        if (p.in !== 'path') continue;
        p.required = true;
        // A path segment is never null (z.coerce schemas say "integer or null").
        const t = p.schema?.type;
        if (Array.isArray(t) && t.includes('null')) p.schema!.type = t.filter((x) => x !== 'null').length === 1 ? t.find((x) => x !== 'null') : t.filter((x) => x !== 'null');
      }
    }
  }
  return doc;
}
