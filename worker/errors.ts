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

/** The error code of a status that Hono itself raises. */
const HTTP_CODES: Partial<Record<number, ErrorCode>> = {
  401: 'unauthorized',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

function body(code: ErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
}

export function onError(err: Error, c: Context): Response {
  if (err instanceof ApiError) return c.json(body(err.code, err.message), err.status, err.headers);
  // Hono's own validators throw HTTPException for bodies they cannot take (malformed JSON: 400;
  // a Content-Type the route does not declare: 415).
  if (err instanceof HTTPException && err.status < 500) {
    const code = HTTP_CODES[err.status] ?? 'bad_request';
    const message =
      err.status === 415
        ? `this route does not take Content-Type "${c.req.header('Content-Type') ?? ''}"`
        : err.message || 'bad request';
    return c.json(body(code, message), err.status as ContentfulStatusCode);
  }
  console.error('unhandled error', c.req.method, c.req.path, err);
  return c.json(body('internal', 'internal error'), 500);
}

/**
 * No route answered. When the path is one the API has, under another method, that is a 405 with
 * the methods it does take (`allowed`, from worker/allowed-methods.ts); else a JSON 404, for
 * `/api` and anything under it alike.
 */
export function notFoundHandler(allowed: (path: string) => string[]) {
  return (c: Context): Response => {
    const methods = allowed(c.req.path);
    if (methods.length)
      return c.json(body('method_not_allowed', `${c.req.path} does not take ${c.req.method}; it takes ${methods.join(', ')}`), 405, {
        Allow: methods.join(', '),
      });
    return c.json(body('not_found', `no route for ${c.req.method} ${c.req.path}`), 404);
  };
}
