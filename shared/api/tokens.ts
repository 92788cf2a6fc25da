/** API tokens: issued by `POST /api/tokens`, sent as `Authorization: Bearer <token>`. */
import { z } from 'zod';

export const TokenCreateSchema = z.strictObject({
  /** A label for the holder's own use. */
  name: z.string().trim().max(64).default(''),
});

export const TokenSchema = z.object({
  /** Public id, shown as a pair's owner. */
  id: z.string(),
  /** The secret bearer token; shown once. */
  token: z.string(),
});
export type Token = z.infer<typeof TokenSchema>;
