/** Serves the OpenAPI document generated from the route validators (the same zod schemas shared/api exports). */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from './env.ts';

export function mountOpenApi(app: OpenAPIHono<AppEnv>, path: string): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'Bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'A token from POST /api/tokens',
  });
  app.doc31(path, {
    openapi: '3.1.0',
    info: {
      title: 'Stripes API',
      version: '1',
      description: 'CycleGAN style pairs: registry, versions and content-addressed weight shards.',
    },
  });
}
