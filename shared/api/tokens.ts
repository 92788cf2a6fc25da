/** API tokens: issued by `POST /api/tokens`, sent as `Authorization: Bearer <token>`. */
import { z } from 'zod';
import { label } from './text.ts';

export const TokenCreateSchema = z.strictObject({
  /** A label for the holder's own use. */
  name: label(64, { optional: true }).default(''),
});

/** A token's public id (shown as a pair's owner). */
export const TokenIdSchema = z.string().regex(/^[A-Za-z0-9_-]{16}$/, 'a token id is 16 characters of A-Z, a-z, 0-9, _ and -');

export const TokenSchema = z.object({
  /** Public id, shown as a pair's owner. */
  id: z.string(),
  /** The secret bearer token; shown once. */
  token: z.string(),
  /** When the token stops working (ISO 8601); mint a new one then. */
  expiresAt: z.string(),
});
export type Token = z.infer<typeof TokenSchema>;

export const TokenRevokedSchema = z.object({
  id: z.string(),
  /** When it was revoked (the first time, if revoked twice). */
  revokedAt: z.string(),
});
export type TokenRevoked = z.infer<typeof TokenRevokedSchema>;
