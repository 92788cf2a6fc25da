/** Pieces every route module uses: the app type, the error responses, the security schemes. */
import { OpenAPIHono, type z } from '@hono/zod-openapi';
import { ErrorBodySchema } from '../../shared/api/errors.ts';
import type { AppEnv } from '../env.ts';
import { validationHook } from '../validation.ts';

export const newRouter = () => new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const err = (description: string) => ({ content: { 'application/json': { schema: ErrorBodySchema } }, description });

export const errors = {
  400: err('Malformed JSON, wrong types or a missing field'),
  401: err('Missing, malformed, forged, expired or revoked token'),
  403: err('The token does not own the pair'),
  404: err('Unknown pair, version or shard'),
  409: err('Conflict with stored state'),
  410: err('Gone: the lease expired'),
  411: err('Content-Length required'),
  413: err('Body too large'),
  415: err('Content-Type (or the bytes) not one this route takes'),
  416: err('Range not satisfiable'),
  422: err('Well-formed but refused by the checks'),
  429: err('Too many writes (see Retry-After)'),
} as const;

/** A JSON response of `schema`. */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { 'application/json': { schema } },
  description,
});

/** Security requirement of a write: a token from POST /api/tokens. */
export const bearer = [{ Bearer: [] }];
/** Security requirement of an operator route: the ADMIN_SECRET. */
export const admin = [{ AdminSecret: [] }];
