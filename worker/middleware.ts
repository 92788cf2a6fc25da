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
import { TokenStore } from './token-store.ts';
import { bearerToken, isTokenShaped, tokenTtlSeconds, verifyToken } from './tokens.ts';

const unauthorized = (code: 'unauthorized' | 'invalid_token' | 'token_expired' | 'token_revoked', message: string) =>
  new ApiError(401, code, message, { 'WWW-Authenticate': code === 'unauthorized' ? 'Bearer' : 'Bearer error="invalid_token"' });

/**
 * 401 unless the request carries a token that verifies, has not expired and was not revoked;
 * leaves its id in `c.var.tokenId`. Any malformed header is a 401, never an exception.
 */
export const requireToken = createMiddleware<AppEnv>(async (c, next) => {
  const bearer = bearerToken(c.req.header('Authorization'));
  if ('problem' in bearer) {
    if (bearer.problem === 'missing')
      throw unauthorized('unauthorized', 'this route needs a token: send Authorization: Bearer <token> (get one from POST /api/tokens)');
    throw unauthorized('unauthorized', 'Authorization must be "Bearer <token>", the token in printable ASCII');
  }
  const verified = await verifyToken(c.env.TOKEN_SECRET, bearer.token);
  if (!verified)
    throw unauthorized(
      'invalid_token',
      isTokenShaped(bearer.token) ? 'the token is not valid (malformed, or its signature does not verify)' : 'the token is not valid: Stripes tokens start with "stp_"',
    );
  const record = await new TokenStore(c.env.DB).record(verified.id);
  if (record.revokedAt)
    throw unauthorized('token_revoked', `this token was revoked by its ${record.revokedBy === 'operator' ? 'operator' : 'holder'} at ${record.revokedAt}; get a new one from POST /api/tokens`);
  // Tokens from before signed expiries live TOKEN_TTL_DAYS from their recorded issue.
  const expires = verified.expires ?? (record.issuedAt ? Date.parse(record.issuedAt) / 1000 + tokenTtlSeconds(c.env.TOKEN_TTL_DAYS) : 0);
  if (!(expires > Date.now() / 1000))
    throw unauthorized('token_expired', `this token expired${expires ? ` at ${new Date(expires * 1000).toISOString()}` : ''}; get a new one from POST /api/tokens`);
  c.set('tokenId', verified.id);
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

/** Equal-length digests compared without an early exit, so the time taken says nothing about the secret. */
async function sameSecret(given: string, secret: string): Promise<boolean> {
  const digest = async (s: string) => new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(s)));
  const [a, b] = await Promise.all([digest(given), digest(secret)]);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/**
 * The operator's routes: `Authorization: Bearer <ADMIN_SECRET>`, compared in constant time. With
 * no ADMIN_SECRET (or one shorter than 32 characters) the routes are off and answer 404.
 */
export const requireAdmin = createMiddleware<AppEnv>(async (c, next) => {
  const secret = c.env.ADMIN_SECRET;
  if (!secret || secret.length < 32)
    throw new ApiError(404, 'not_found', 'operator routes are off on this deployment (set the ADMIN_SECRET secret to turn them on)');
  const bearer = bearerToken(c.req.header('Authorization'));
  if (!('token' in bearer) || !(await sameSecret(bearer.token, secret)))
    throw new ApiError(401, 'unauthorized', 'this operator route needs Authorization: Bearer <ADMIN_SECRET>', { 'WWW-Authenticate': 'Bearer realm="admin"' });
  await next();
});
