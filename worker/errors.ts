/**
 * One error type and one handler: every failure answers `{error: {code, message}}` with its
 * status, and anything unexpected is logged and answers a bare 500.
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ErrorBody, ErrorCode } from '../shared/api/errors.ts';

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string) => new ApiError(400, 'bad_request', message);
export const notFound = (message: string) => new ApiError(404, 'not_found', message);

function body(code: ErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
}

export function onError(err: Error, c: Context): Response {
  if (err instanceof ApiError) return c.json(body(err.code, err.message), err.status, err.headers);
  // Hono's own validators throw HTTPException for bodies it cannot parse (malformed JSON).
  if (err instanceof HTTPException && err.status < 500) {
    const code: ErrorCode = err.status === 413 ? 'payload_too_large' : 'bad_request';
    return c.json(body(code, err.message || 'bad request'), err.status as ContentfulStatusCode);
  }
  console.error('unhandled error', c.req.method, c.req.path, err);
  return c.json(body('internal', 'internal error'), 500);
}

export function onNotFound(c: Context): Response {
  return c.json(body('not_found', `no route for ${c.req.method} ${c.req.path}`), 404);
}
