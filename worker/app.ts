/** The Hono app: every API route under /api, one error handler, the OpenAPI document. */
import { OpenAPIHono } from '@hono/zod-openapi';
import { cors } from 'hono/cors';
import type { AppEnv } from './env.ts';
import { onError, onNotFound } from './errors.ts';
import { mountOpenApi } from './openapi.ts';
import { pairs } from './routes/pairs.ts';
import { samples } from './routes/samples.ts';
import { shards } from './routes/shards.ts';
import { tokens } from './routes/tokens.ts';
import { validation } from './routes/validation.ts';
import { versions } from './routes/versions.ts';
import { rounds } from './rounds/routes.ts';
import { validationHook } from './validation.ts';

export function createApp() {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).basePath('/api');
  // Pairs, manifests and shards are public: a page on another origin may read them. Writes need a
  // bearer token (never a cookie), so allowing reads cross-origin opens no CSRF hole.
  app.use(
    '*',
    cors({
      origin: '*',
      allowMethods: ['GET', 'HEAD'],
      exposeHeaders: ['ETag', 'Content-Length', 'Content-Range', 'Accept-Ranges'],
      maxAge: 86400,
    }),
  );
  app.route('/', tokens);
  app.route('/', pairs);
  app.route('/', versions);
  app.route('/', samples);
  app.route('/', shards);
  app.route('/', rounds);
  app.route('/', validation);
  mountOpenApi(app, '/openapi.json');
  app.onError(onError);
  app.notFound(onNotFound);
  return app;
}

export const app = createApp();
