/**
 * The worker entry. API requests reach the Hono app (wrangler.toml routes /api/* to the worker
 * first); everything else is the built web app, served by the assets binding.
 */
import { app } from './app.ts';
import type { Env } from './env.ts';

export { PairRound } from './rounds/pair-round.ts';

export default {
  fetch(request, env, ctx) {
    const { pathname } = new URL(request.url);
    if (pathname === '/api' || pathname.startsWith('/api/')) return app.fetch(request, env, ctx);
    return env.ASSETS.fetch(request);
  },
} satisfies ExportedHandler<Env>;
