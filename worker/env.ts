/** The bindings wrangler.toml declares, in one place. */
import type { PairRound } from './rounds/pair-round.ts';

export interface Env {
  /** The pair registry (migrations/). Only worker/registry.ts, worker/rate-limit.ts and worker/token-store.ts query it. */
  DB: D1Database;
  /** Shards and sample images. Only worker/storage.ts touches it. */
  WEIGHTS: R2Bucket;
  /** One community-training round per pair (the rounds issue fills it in). */
  ROUNDS: DurableObjectNamespace<PairRound>;
  /** The built web app (web/dist). */
  ASSETS: Fetcher;
  /** HMAC key for API tokens: a wrangler secret in production, .dev.vars locally. */
  TOKEN_SECRET: string;
  /** Writes each token may make per minute. */
  WRITES_PER_MINUTE?: string;
  /** Tokens each client address may mint per hour. */
  TOKENS_PER_HOUR?: string;
  /** Days a new token lives (default 90). */
  TOKEN_TTL_DAYS?: string;
  /** Operator secret for DELETE /api/admin/tokens/{id}: a wrangler secret; the route is off when unset. */
  ADMIN_SECRET?: string;
}

/** Hono's generics for this app: bindings plus what the auth middleware leaves behind. */
export interface AppEnv {
  Bindings: Env;
  Variables: { tokenId: string };
}
