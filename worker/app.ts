/** The Hono app: every API route under /api, one error handler, the OpenAPI document. */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from './env.ts';
import { onError, onNotFound } from './errors.ts';
import { mountOpenApi } from './openapi.ts';
import { pairs } from './routes/pairs.ts';
import { samples } from './routes/samples.ts';
import { shards } from './routes/shards.ts';
import { tokens } from './routes/tokens.ts';
import { versions } from './routes/versions.ts';
import { rounds } from './rounds/routes.ts';
import { validationHook } from './validation.ts';

export function createApp() {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).basePath('/api');
  app.route('/', tokens);
  app.route('/', pairs);
  app.route('/', versions);
  app.route('/', samples);
  app.route('/', shards);
  app.route('/', rounds);
  mountOpenApi(app, '/openapi.json');
  app.onError(onError);
  app.notFound(onNotFound);
  return app;
}

export const app = createApp();
