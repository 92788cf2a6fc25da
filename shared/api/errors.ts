/**
 * The one error shape every API route answers with, and the codes a client can branch on.
 */
import { z } from 'zod';

export const ERROR_CODES = [
  'bad_request', // malformed JSON, wrong types, a missing field
  'invalid_manifest', // a manifest the checkpoint format rejects
  'unauthorized', // no token
  'invalid_token', // a malformed token, or one whose signature does not verify
  'token_expired', // a token past its expiry (mint a new one)
  'token_revoked', // a token its holder or the operator revoked
  'forbidden', // a valid token that does not own the pair
  'not_found', // unknown pair, version, shard or sample
  'conflict', // a slug already taken, a version no longer pending
  'shards_missing', // committing a version whose shards are not all uploaded
  'shard_not_declared', // a shard no pending manifest of the caller names
  'hash_mismatch', // shard bytes whose SHA-256 is not their name
  'size_mismatch', // shard bytes whose length is not the declared size
  'length_required', // an upload without Content-Length
  'payload_too_large',
  'unsupported_media_type', // a body whose Content-Type or bytes the route does not take
  'method_not_allowed', // a known path with a method it does not answer (see Allow)
  'range_not_satisfiable',
  'rate_limited',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const ErrorBodySchema = z.object({
  error: z.object({ code: z.enum(ERROR_CODES), message: z.string() }),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;
