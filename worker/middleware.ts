/**
 * Guards shared by the write routes: who is calling (token), how often (rate limit), whether
 * they own the pair, and how large a body may be.
 */
import { createMiddleware } from 'hono/factory';
import { bodyLimit } from 'hono/body-limit';
import type { AppEnv } from './env.ts';
import { ApiError } from './errors.ts';
import { hit, limitFrom } from './rate-limit.ts';
import { Registry } from './registry.ts';
import { tokenFromHeader } from './tokens.ts';

/** 401 unless the request carries a valid token; leaves its id in `c.var.tokenId`. */
export const requireToken = createMiddleware<AppEnv>(async (c, next) => {
  c.set('tokenId', await tokenFromHeader(c.env.TOKEN_SECRET, c.req.header('Authorization')));
  await next();
});

/** Per-token write budget (WRITES_PER_MINUTE, default 600: a full checkpoint is about 40 shards). */
export const writeLimit = createMiddleware<AppEnv>(async (c, next) => {
  const limit = limitFrom(c.env.WRITES_PER_MINUTE, 600);
  const d = await hit(c.env.DB, `token:${c.var.tokenId}`, limit, 60);
  if (!d.ok)
    throw new ApiError(429, 'rate_limited', `this token made more than ${limit} writes this minute; retry in ${d.retryAfter} s`, {
      'Retry-After': String(d.retryAfter),
    });
  await next();
});

/** 404 for an unknown pair, 403 when the caller's token is not its owner. */
export async function assertOwner(registry: Registry, slug: string, tokenId: string): Promise<void> {
  const owner = await registry.ownerOf(slug);
  if (owner === null) throw new ApiError(404, 'not_found', `no pair "${slug}"`);
  if (owner !== tokenId) throw new ApiError(403, 'forbidden', `only the owner of "${slug}" may do this`);
}

/** Refuses bodies over `maxBytes` before reading them (Content-Length) or while reading (streamed). */
export function sizeLimit(maxBytes: number, what: string) {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ApiError(413, 'payload_too_large', `${what} may be at most ${maxBytes} bytes`);
    },
  });
}

export const JSON_BODY_LIMIT = 16 * 1024;
/** A full-size manifest with fp16 variants is a few tens of KiB; 1 MiB leaves room for meta. */
export const MANIFEST_BODY_LIMIT = 1024 * 1024;
