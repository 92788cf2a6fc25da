/**
 * API tokens: `stp_<id>.<expires>.<signature>`, where `expires` is the expiry in Unix seconds
 * (decimal) and the signature is HMAC-SHA-256 of `<id>.<expires>` under TOKEN_SECRET. Verifying
 * needs no storage, a token cannot be forged or have its expiry moved without the secret, and a
 * holder can read when its token expires. Tokens issued before expiries existed
 * (`stp_<id>.<signature>`, signature over the id alone) still verify; their expiry is counted
 * from the issue time the registry recorded (worker/token-store.ts).
 *
 * Nothing here throws on malformed input: every shape check comes before any decoding, so a
 * garbage Authorization header is a refusal, never an exception.
 */
const PREFIX = 'stp_';
const enc = new TextEncoder();
let cached: { secret: string; key: Promise<CryptoKey> } | null = null;

/** A token's public id: 12 random bytes, base64url. */
export const TOKEN_ID = /^[A-Za-z0-9_-]{16}$/;
/** HMAC-SHA-256 is 32 bytes: 43 base64url characters without padding. */
const SIGNATURE = /^[A-Za-z0-9_-]{43}$/;
const CURRENT = /^stp_([A-Za-z0-9_-]{16})\.([1-9][0-9]{0,11})\.([A-Za-z0-9_-]{43})$/;
const LEGACY = /^stp_([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})$/;

export const DEFAULT_TOKEN_TTL_DAYS = 90;
const DAY = 86_400;

function hmacKey(secret: string): Promise<CryptoKey> {
  if (!secret || secret.length < 32) {
    // A deployment without a secret must fail loudly, never sign with an empty key.
    throw new Error('TOKEN_SECRET is missing or shorter than 32 characters');
  }
  if (cached?.secret !== secret) {
    cached = {
      secret,
      key: crypto.subtle.importKey('raw', enc.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']),
    };
  }
  return cached.key;
}

function toBase64Url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Decodes base64url that a shape regex has already checked (so atob cannot throw on it). */
function fromBase64Url(s: string): Uint8Array<ArrayBuffer> | null {
  if (!SIGNATURE.test(s)) return null;
  try {
    const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

/** Lifetime of a new token in seconds: TOKEN_TTL_DAYS (a positive number of days) or 90 days. */
export function tokenTtlSeconds(value: string | undefined): number {
  const days = Number(value);
  return Math.round((Number.isFinite(days) && days > 0 ? Math.min(days, 3650) : DEFAULT_TOKEN_TTL_DAYS) * DAY);
}

export async function issueToken(secret: string, ttlSeconds: number, now = Date.now()): Promise<{ id: string; token: string; expiresAt: string }> {
  const id = toBase64Url(crypto.getRandomValues(new Uint8Array(12)));
  const expires = Math.floor(now / 1000) + ttlSeconds;
  const sig = new Uint8Array(await crypto.subtle.sign('HMAC', await hmacKey(secret), enc.encode(`${id}.${expires}`)));
  return { id, token: `${PREFIX}${id}.${expires}.${toBase64Url(sig)}`, expiresAt: new Date(expires * 1000).toISOString() };
}

/**
 * A token whose signature verifies: its id and expiry (Unix seconds), or `expires: null` for a
 * token from before expiries, whose age the registry knows.
 */
export interface VerifiedToken {
  id: string;
  expires: number | null;
}

/** The token when its shape is right and its signature verifies, else null. `crypto.subtle.verify` compares in constant time. */
export async function verifyToken(secret: string, token: string): Promise<VerifiedToken | null> {
  const key = await hmacKey(secret);
  const current = CURRENT.exec(token);
  if (current) {
    const [, id, expires, sig] = current;
    const sigBytes = fromBase64Url(sig);
    if (!sigBytes) return null;
    const ok = await crypto.subtle.verify('HMAC', key, sigBytes, enc.encode(`${id}.${expires}`));
    return ok ? { id, expires: Number(expires) } : null;
  }
  const legacy = LEGACY.exec(token);
  if (legacy) {
    const [, id, sig] = legacy;
    const sigBytes = fromBase64Url(sig);
    if (!sigBytes) return null;
    const ok = await crypto.subtle.verify('HMAC', key, sigBytes, enc.encode(id));
    return ok ? { id, expires: null } : null;
  }
  return null;
}

/** The token text of `Authorization: Bearer <token>`, or why there is none. */
export function bearerToken(header: string | undefined): { token: string } | { problem: 'missing' | 'malformed' } {
  if (header === undefined || header === '') return { problem: 'missing' };
  const m = /^Bearer[ \t]+([\x21-\x7e]+)[ \t]*$/i.exec(header);
  return m ? { token: m[1] } : { problem: 'malformed' };
}

/** Whether a string at least looks like a Stripes token (for a clearer refusal). */
export const isTokenShaped = (s: string) => s.startsWith(PREFIX);
