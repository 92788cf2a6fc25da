/** Pieces every route module uses: the app type, the error responses, the security scheme. */
import { OpenAPIHono } from '@hono/zod-openapi';
import { ErrorBodySchema } from '../../shared/api/errors.ts';
import type { AppEnv } from '../env.ts';
import { validationHook } from '../validation.ts';

export const newRouter = () => new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const err = (description: string) => ({ content: { 'application/json': { schema: ErrorBodySchema } }, description });

export const errors = {
  400: err('Malformed JSON, wrong types or a missing field'),
  401: err('Missing or forged token'),
  403: err('The token does not own the pair'),
  404: err('Unknown pair, version or shard'),
  409: err('Conflict with stored state'),
  413: err('Body too large'),
  429: err('Too many writes'),
} as const;

export const bearer = [{ Bearer: [] }];
