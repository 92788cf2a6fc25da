/**
 * API tokens: `stp_<id>.<signature>`, where the signature is HMAC-SHA-256 of the id under
 * TOKEN_SECRET. Verifying needs no storage, and a token cannot be forged without the secret.
 */
import { ApiError } from './errors.ts';

const PREFIX = 'stp_';
const enc = new TextEncoder();
let cached: { secret: string; key: Promise<CryptoKey> } | null = null;

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

function fromBase64Url(s: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]+$/.test(s)) return null;
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4));
  return Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
}

export async function issueToken(secret: string): Promise<{ id: string; token: string }> {
  const id = toBase64Url(crypto.getRandomValues(new Uint8Array(12)));
  const sig = new Uint8Array(await crypto.subtle.sign('HMAC', await hmacKey(secret), enc.encode(id)));
  return { id, token: `${PREFIX}${id}.${toBase64Url(sig)}` };
}

/** The token's id when its signature verifies, or null. `crypto.subtle.verify` compares in constant time. */
export async function verifyToken(secret: string, token: string): Promise<string | null> {
  if (!token.startsWith(PREFIX)) return null;
  const [id, sig, ...rest] = token.slice(PREFIX.length).split('.');
  if (!id || !sig || rest.length) return null;
  const sigBytes = fromBase64Url(sig);
  if (!sigBytes || !/^[A-Za-z0-9_-]{16}$/.test(id)) return null;
  const ok = await crypto.subtle.verify('HMAC', await hmacKey(secret), sigBytes, enc.encode(id));
  return ok ? id : null;
}

/** Reads `Authorization: Bearer <token>`; 401 when absent or forged. */
export async function tokenFromHeader(secret: string, header: string | undefined): Promise<string> {
  if (!header) throw new ApiError(401, 'unauthorized', 'this route needs a token: send Authorization: Bearer <token> (get one from POST /api/tokens)', { 'WWW-Authenticate': 'Bearer' });
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  if (!m) throw new ApiError(401, 'unauthorized', 'Authorization must be "Bearer <token>"', { 'WWW-Authenticate': 'Bearer' });
  const id = await verifyToken(secret, m[1]);
  if (!id) throw new ApiError(401, 'invalid_token', 'the token is not valid (its signature does not verify)', { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
  return id;
}
