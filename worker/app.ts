/** The Hono app: every API route under /api, one error handler, the OpenAPI document. */
import { OpenAPIHono } from '@hono/zod-openapi';
import { cors } from 'hono/cors';
import { createMiddleware } from 'hono/factory';
import { allowedMethods } from './allowed-methods.ts';
import type { AppEnv } from './env.ts';
import { notFoundHandler, onError } from './errors.ts';
import { mountOpenApi } from './openapi.ts';
import { pairs } from './routes/pairs.ts';
import { samples } from './routes/samples.ts';
import { shards } from './routes/shards.ts';
import { tokens } from './routes/tokens.ts';
import { validation } from './routes/validation.ts';
import { versions } from './routes/versions.ts';
import { rounds } from './rounds/routes.ts';
import { API_HEADERS } from './security-headers.ts';
import { validationHook } from './validation.ts';

/** Sets the API's security headers on every answer, errors and 404s included. */
const securityHeaders = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  for (const [k, v] of Object.entries(API_HEADERS)) c.res.headers.set(k, v);
});

export function createApp() {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).basePath('/api');
  app.use('*', securityHeaders);
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
  app.notFound(notFoundHandler(allowedMethods(app.routes)));
  return app;
}

export const app = createApp();
