/**
 * Property-based fuzz of every route in the OpenAPI document: random path parameters (well-formed
 * and garbage), query strings, headers and bodies (shaped by the operation's schema, or junk),
 * sent to the app in the Workers runtime. Whatever comes in, nothing answers 5xx, and every
 * error is JSON `{error: {code, message}}` with a known code. Bounded: a few hundred requests,
 * a fixed seed, well under a minute.
 */
import { env } from 'cloudflare:test';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../shared/api/errors.ts';
import { app } from '../../worker/app.ts';
import { BASE, call, createPair, newToken, publish, tinyCheckpoint } from './helpers.ts';

type Schema = {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: Schema | boolean;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
};
type Param = { name: string; in: 'path' | 'query' | 'header'; required?: boolean; schema: Schema };
type Op = { method: string; path: string; parameters?: Param[]; requestBody?: { content: Record<string, { schema?: Schema }> } };

/** Fixed so a failure reproduces; change it locally to explore further. */
const SEED = 20261201;
const RUNS_PER_OPERATION = 20;
// Writes are limited per token; the fuzz wants to reach the handlers, not only the limit.
const bindings = { ...env, WRITES_PER_MINUTE: '1000000' };

let ops: Op[] = [];
let known: { token: string; otherToken: string; slug: string; hash: string; lease: string; tokenId: string };

beforeAll(async () => {
  const doc = await (await call('/api/openapi.json')).json<{ paths: Record<string, Record<string, Op>> }>();
  ops = Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ ...op, method: method.toUpperCase(), path })));
  const owner = await newToken('fuzz');
  const other = await newToken('fuzz-other');
  const slug = await createPair(owner.token);
  const ckpt = await tinyCheckpoint(90);
  await publish(owner.token, slug, ckpt);
  const leaseRes = await call(`/api/pairs/${slug}/round/leases`, { method: 'POST', token: other.token, json: {} });
  const lease = leaseRes.ok ? ((await leaseRes.json()) as { id?: string; lease?: string }) : {};
  known = {
    token: owner.token,
    otherToken: other.token,
    tokenId: owner.id,
    slug,
    hash: [...ckpt.shards.keys()][0],
    lease: lease.id ?? lease.lease ?? '00000000-0000-4000-8000-000000000000',
  };
}, 60_000);

/** Values that fit a JSON schema (bounded in depth and size). */
function fromSchema(s: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (!s || depth > 5) return fc.constant(null);
  if (s.const !== undefined) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...s.enum);
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return fc.oneof(...alts.map((a) => fromSchema(a, depth + 1)));
  if (s.allOf?.length) return fromSchema(s.allOf[0], depth + 1);
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  switch (type) {
    case 'string':
      if (s.pattern) return fc.stringMatching(new RegExp(s.pattern)).map((x) => x.slice(0, s.maxLength ?? 200));
      if (s.format === 'uuid') return fc.uuid();
      return fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 40, 200), unit: 'grapheme' });
    case 'integer':
      return fc.integer({ min: Math.max(s.minimum ?? -1e6, -1e9), max: Math.min(s.maximum ?? 1e6, 1e9) });
    case 'number':
      return fc.double({ min: s.minimum ?? -1e6, max: s.maximum ?? 1e6, noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'array':
      return fc.array(fromSchema(s.items, depth + 1), { minLength: s.minItems ?? 0, maxLength: Math.min(s.maxItems ?? 4, 4) });
    case 'object': {
      if (s.properties) {
        const required = s.required ?? [];
        const shape = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, fromSchema(v, depth + 1)]));
        return fc.record(shape, { requiredKeys: required.filter((k) => k in shape) });
      }
      return fc.dictionary(fc.string({ maxLength: 8 }), typeof s.additionalProperties === 'object' ? fromSchema(s.additionalProperties, depth + 1) : fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 });
    }
    default:
      return fc.jsonValue({ maxDepth: 3 });
  }
}

const encode = (s: string) => {
  try {
    return encodeURIComponent(s);
  } catch {
    return 'x';
  }
};

/** Junk for a path segment: empty-ish, numbers in odd spellings, dot segments, long, any text. */
const junkSegment = fc.oneof(
  fc.constantFrom('', ' ', '0', '-1', '1e0', '0x1', '1.0', '01', '99999999999999999999', '..', '.', '%', '%00', 'null', 'undefined', 'current', 'a'.repeat(300)),
  fc.string({ maxLength: 30, unit: 'grapheme' }).map(encode),
  fc.string({ maxLength: 10, unit: 'binary' }).map(encode),
);

/** A well-formed value for a path parameter, preferring what exists (so handlers go deep). */
function goodParam(p: Param): fc.Arbitrary<string> {
  const existing: Record<string, string[]> = {
    slug: [known.slug],
    hash: [known.hash],
    number: ['1', '2'],
    lease: [known.lease],
    id: [known.tokenId],
  };
  const from = fromSchema(p.schema).map((v) => encode(String(v)));
  return existing[p.name] ? fc.oneof(fc.constantFrom(...existing[p.name]), from) : from;
}

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

function bodyFor(op: Op): fc.Arbitrary<Uint8Array | undefined> {
  const schema = op.requestBody?.content['application/json']?.schema;
  const deep = (n: number) => new TextEncoder().encode('['.repeat(n) + ']'.repeat(n));
  return fc.oneof(
    { weight: 4, arbitrary: schema ? fromSchema(schema).map(json) : fc.constant(undefined) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map(json) },
    { weight: 1, arbitrary: fc.string({ maxLength: 200, unit: 'grapheme' }).map((s) => new TextEncoder().encode(s)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2048 }) },
    { weight: 1, arbitrary: fc.constantFrom(undefined, new Uint8Array(0), deep(5000), json({ manifest: { meta: 1 } })) },
  );
}

const authArb = () =>
  fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(`Bearer ${known.token}`, `Bearer ${known.otherToken}`) },
    { weight: 1, arbitrary: fc.constantFrom(undefined, 'Bearer', 'Bearer stp_AAAAAAAAAAAAAAAA.A', 'Basic x', `Bearer ${known.token}x`) },
    { weight: 1, arbitrary: fc.string({ maxLength: 60 }).map((s) => `Bearer ${s}`) },
  );

const headerArb = (op: Op) =>
  fc.record(
    {
      Authorization: authArb(),
      'Content-Type': fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...Object.keys(op.requestBody?.content ?? { 'application/json': {} })) },
        { weight: 2, arbitrary: fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'application/octet-stream',
        'image/png',
        'image/jpeg',
        'text/plain',
        'multipart/form-data; boundary=x',
        'application/x-www-form-urlencoded',
        '',
        ';;;',
      ) },
      ),
      Range: fc.constantFrom('bytes=0-10', 'bytes=-5', 'bytes=5-', 'bytes=10-0', 'bytes=0-1,2-3', 'bytes=x', 'bytes=99999999999999999999-'),
      'If-None-Match': fc.constantFrom('*', `"${known.hash}"`, 'W/"x"', '""', `"${known.slug}.v1"`),
      'X-Shard-Sha256': fc.oneof(fc.constant(known.hash), fc.stringMatching(/^[0-9a-f]{64}$/), fc.string({ maxLength: 70 })),
    },
    { requiredKeys: op.method === 'GET' ? [] : ['Authorization'] },
  );

const queryArb = (op: Op) => {
  const declared = (op.parameters ?? []).filter((p) => p.in === 'query');
  const values = declared.map((p) =>
    fc.option(fc.oneof(fromSchema(p.schema).map((v) => encode(String(v))), junkSegment), { nil: undefined }).map((v) => (v === undefined ? '' : `${p.name}=${v}`)),
  );
  const extra = fc.array(fc.tuple(fc.string({ maxLength: 8 }).map(encode), junkSegment), { maxLength: 2 }).map((kv) => kv.map(([k, v]) => `${k}=${v}`));
  return fc.tuple(fc.tuple(...values), extra).map(([a, b]) => [...a, ...b].filter(Boolean).join('&'));
};

/** Statuses seen, per method: printed at the end so a run shows how deep it went. */
const seen = new Map<string, number>();

async function check(method: string, url: string, headers: Record<string, string | undefined>, body: Uint8Array | undefined) {
  const h = new Headers();
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && /^[\x20-\x7e]*$/.test(v)) h.set(k, v);
  const res = await app.request(`${BASE}${url}`, { method, headers: h, body: method === 'GET' || method === 'HEAD' ? undefined : body }, bindings);
  const text = method === 'HEAD' ? '' : await res.text();
  const what = `${method} ${url} → ${res.status} ${text.slice(0, 300)}`;
  seen.set(`${method} ${res.status}`, (seen.get(`${method} ${res.status}`) ?? 0) + 1);
  expect(res.status, what).toBeLessThan(500);
  expect(res.headers.get('X-Content-Type-Options'), what).toBe('nosniff');
  if (res.status >= 400 && method !== 'HEAD') {
    expect(res.headers.get('Content-Type'), what).toMatch(/^application\/json/);
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    expect(Object.keys(parsed), what).toEqual(['error']);
    expect(ERROR_CODES as readonly unknown[], what).toContain(parsed.error?.code);
    expect(typeof parsed.error?.message === 'string' && parsed.error.message.length > 0, what).toBe(true);
  }
}

describe('fuzzing every route from the OpenAPI document', () => {
  it('never answers 5xx, and every error is the JSON error shape', { timeout: 120_000 }, async () => {
    expect(ops.length).toBeGreaterThanOrEqual(20);
    for (const [i, op] of ops.entries()) {
      const pathParams = (op.parameters ?? []).filter((p) => p.in === 'path');
      const paramArb = fc.tuple(...pathParams.map((p) => fc.oneof({ weight: 3, arbitrary: goodParam(p) }, { weight: 1, arbitrary: junkSegment })));
      await fc.assert(
        fc.asyncProperty(paramArb, queryArb(op), headerArb(op), bodyFor(op), async (values, query, headersIn, body) => {
          let headers: Record<string, string | undefined> = headersIn;
          let url = op.path;
          pathParams.forEach((p, j) => (url = url.replace(`{${p.name}}`, values[j])));
          // Revoking one of the shared tokens would turn the rest of the run into 401s.
          const shared = [`Bearer ${known.token}`, `Bearer ${known.otherToken}`];
          if (url === '/api/tokens/self' && shared.includes(headers.Authorization ?? ''))
            headers = { ...headers, Authorization: `Bearer ${(await newToken('fuzz-revoke')).token}` };
          await check(op.method, url + (query ? `?${query}` : ''), headers, body);
        }),
        { numRuns: RUNS_PER_OPERATION, seed: SEED + i, endOnFailure: true },
      );
    }
  });

  afterAll(() => console.log('fuzz statuses:', JSON.stringify(Object.fromEntries([...seen].sort()))));

  it('answers any method on any known path without 5xx', { timeout: 120_000 }, async () => {
    const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PROPFIND', 'TRACE'];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ops), fc.constantFrom(...methods), authArb(), async (op, method, auth) => {
        const url = op.path.replace(/\{slug\}/, known.slug).replace(/\{(\w+)\}/g, '1');
        const revokes = method === 'DELETE' && url === '/api/tokens/self';
        await check(method, url, { Authorization: revokes ? undefined : auth, 'Content-Type': 'application/json' }, json({}));
      }),
      { numRuns: 60, seed: SEED },
    );
  });
});
