/**
 * Hardening the edge (issue 11): garbage tokens, token expiry and revocation, hostile manifests,
 * sniffed sample images, security headers, canonical numbers, 405s, JSON 404s, text fields and
 * the write limit on every write route. Each case first reproduced the bug it guards.
 */
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { app } from '../../worker/app.ts';
import { issueToken } from '../../worker/tokens.ts';
import { BASE, call, createPair, expectRefused, newToken, publish, tinyCheckpoint, uniqueSlug } from './helpers.ts';
import { jpegHeader, PNG_1x1, pngHeader, webpHeader } from './images.ts';

type Op = { method: string; path: string; security?: Array<Record<string, unknown>>; parameters?: Array<{ name: string; in: string }> };
let ops: Op[] = [];
let fixture: { token: string; slug: string };

beforeAll(async () => {
  const doc = await (await call('/api/openapi.json')).json<{ paths: Record<string, Record<string, Op>> }>();
  ops = Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ ...op, method: method.toUpperCase(), path })));
  const t = await newToken();
  fixture = { token: t.token, slug: await createPair(t.token) };
});

/** A concrete URL for an operation: every path parameter filled with a well-formed value. */
function fill(path: string, slug: string): string {
  const values: Record<string, string> = {
    slug,
    hash: 'a'.repeat(64),
    number: '1',
    domain: 'A',
    index: '0',
    lease: '00000000-0000-4000-8000-000000000000',
    net: 'G_AB',
    id: 'A'.repeat(16),
  };
  return path.replace(/\{(\w+)\}/g, (_, name: string) => values[name] ?? name);
}

const tokenRoutes = () => ops.filter((o) => o.security?.some((s) => 'Bearer' in s));
const sendAs = (o: Op, headers: Record<string, string>, slug = fixture.slug) =>
  call(fill(o.path, slug), { method: o.method, headers: { 'Content-Type': 'application/json', ...headers }, body: o.method === 'GET' ? undefined : '{}' });

describe('tokens: garbage is a 401, never a 500', () => {
  const garbage = [
    'stp_AAAAAAAAAAAAAAAA.A',
    'stp_AAAAAAAAAAAAAAAA.A=',
    'stp_AAAAAAAAAAAAAAAA.====',
    'stp_AAAAAAAAAAAAAAAA.' + 'A'.repeat(42) + '*',
    'stp_AAAAAAAAAAAAAAAA.' + 'A'.repeat(44),
    'stp_AAAAAAAAAAAAAAAA.1.' + 'A'.repeat(43),
    'stp_AAAAAAAAAAAAAAAA.99999999999999999999.' + 'A'.repeat(43),
    'stp_AAAAAAAAAAAAAAAA.0.' + 'A'.repeat(43),
    'stp_AAAAAAAAAAAAAAA.' + 'A'.repeat(43),
    'stp_.',
    'stp_',
    'stp_a.b.c.d',
    'stp_' + 'A'.repeat(10_000),
    'x'.repeat(8000),
  ];
  const headers = [...garbage.map((t) => `Bearer ${t}`), 'Bearer', 'Bearer ', 'Bearer\tstp_x', 'bearer  stp_x', 'Basic Zm9vOmJhcg==', 'stp_AAAAAAAAAAAAAAAA.A'];
  // Sent as UTF-8 bytes (the test pool warns about each, so they go to two routes only).
  const nonAscii = ['Bearer stp_AAAAAAAAAAAAAAAA.\u00e9\u00e9\u00e9', 'Bearer \u00ff\u00fe', '\u00e9', 'Bearer stp_\u2603'];

  it('answers every authenticated route with a JSON 401', { timeout: 240_000 }, async () => {
    expect(tokenRoutes().length).toBeGreaterThanOrEqual(10);
    for (const [i, o] of tokenRoutes().entries()) {
      for (const h of i < 2 ? [...headers, ...nonAscii] : headers) {
        const res = await sendAs(o, { Authorization: h });
        const text = await res.text();
        expect(res.status, `${o.method} ${o.path} with ${JSON.stringify(h.slice(0, 60))}: ${text}`).toBe(401);
        expect(res.headers.get('Content-Type')).toMatch(/application\/json/);
        const body = JSON.parse(text);
        expect(['unauthorized', 'invalid_token']).toContain(body.error.code);
        expect(res.headers.get('WWW-Authenticate')).toMatch(/^Bearer/);
      }
    }
  });
});

describe('tokens: expiry and revocation', () => {
  it('issues tokens that say when they expire (90 days by default)', async () => {
    const res = await call('/api/tokens', { method: 'POST', json: {} });
    const t = await res.json<{ token: string; expiresAt: string }>();
    const days = (Date.parse(t.expiresAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(89.9);
    expect(days).toBeLessThan(90.1);
  });

  it('refuses an expired token with a clear 401', async () => {
    const old = await issueToken(env.TOKEN_SECRET, 60, Date.now() - 120_000);
    await expectRefused(() => call('/api/pairs', { method: 'POST', token: old.token, json: {} }), 401, 'token_expired', /expired at .*POST \/api\/tokens/);
  });

  it('takes tokens from before expiries for TOKEN_TTL_DAYS from their recorded issue', async () => {
    const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(env.TOKEN_SECRET), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const legacy = async (id: string) => {
      const sig = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(id)));
      return `stp_${id}.${btoa(String.fromCharCode(...sig)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`;
    };
    const fresh = 'LegacyFresh00001';
    const stale = 'LegacyStale00001';
    await env.DB.prepare('INSERT INTO tokens (id, name, created_at) VALUES (?, ?, ?), (?, ?, ?)')
      .bind(fresh, '', new Date().toISOString(), stale, '', new Date(Date.now() - 91 * 86_400_000).toISOString())
      .run();
    expect((await call('/api/pairs', { method: 'POST', token: await legacy(fresh), json: {} })).status).toBe(400);
    await expectRefused(async () => call('/api/pairs', { method: 'POST', token: await legacy(stale), json: {} }), 401, 'token_expired');
    await expectRefused(async () => call('/api/pairs', { method: 'POST', token: await legacy('LegacyUnknown001'), json: {} }), 401, 'token_expired');
  });

  it('lets a holder revoke its own token', async () => {
    const t = await newToken();
    const slug = await createPair(t.token);
    const res = await call('/api/tokens/self', { method: 'DELETE', token: t.token });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: t.id, revokedAt: expect.any(String) });
    await expectRefused(() => call(`/api/pairs/${slug}`, { method: 'PATCH', token: t.token, json: { title: 'x' } }), 401, 'token_revoked', /revoked by its holder/);
    await expectRefused(() => call('/api/tokens/self', { method: 'DELETE', token: t.token }), 401, 'token_revoked');
    await expectRefused(() => call('/api/tokens/self', { method: 'DELETE' }), 401, 'unauthorized');
  });

  it('lets the operator revoke any token with ADMIN_SECRET, and is off without it', async () => {
    const t = await newToken();
    const revoke = async (id: string, auth: string | undefined, bindings: object) =>
      app.request(`/api/admin/tokens/${id}`, { method: 'DELETE', headers: auth ? { Authorization: auth } : {} }, { ...env, ...bindings });
    const secret = 'admin-secret-0123456789abcdef0123456789';
    await expectRefused(() => revoke(t.id, `Bearer ${secret}`, { ADMIN_SECRET: undefined }), 404, 'not_found', /ADMIN_SECRET/);
    await expectRefused(() => revoke(t.id, `Bearer ${secret}`, { ADMIN_SECRET: 'short' }), 404, 'not_found');
    await expectRefused(() => revoke(t.id, undefined, { ADMIN_SECRET: secret }), 401, 'unauthorized');
    await expectRefused(() => revoke(t.id, `Bearer ${secret}x`, { ADMIN_SECRET: secret }), 401, 'unauthorized');
    await expectRefused(() => revoke(t.id, `Bearer ${t.token}`, { ADMIN_SECRET: secret }), 401, 'unauthorized');
    await expectRefused(() => revoke('not-an-id', `Bearer ${secret}`, { ADMIN_SECRET: secret }), 400, 'bad_request', /id/);
    const ok = await revoke(t.id, `Bearer ${secret}`, { ADMIN_SECRET: secret });
    expect(ok.status).toBe(200);
    const first = await ok.json<{ revokedAt: string }>();
    const again = await revoke(t.id, `Bearer ${secret}`, { ADMIN_SECRET: secret });
    expect((await again.json<{ revokedAt: string }>()).revokedAt).toBe(first.revokedAt);
    await expectRefused(() => call('/api/pairs', { method: 'POST', token: t.token, json: {} }), 401, 'token_revoked', /operator/);
  });
});

describe('manifests: meta is bounded', () => {
  async function declare(token: string, slug: string, manifestJson: string) {
    return call(`/api/pairs/${slug}/versions`, { method: 'POST', token, headers: { 'Content-Type': 'application/json' }, body: `{"manifest":${manifestJson}}` });
  }

  it('refuses meta nested 10,000 deep with a 400 naming meta (was a 500)', async () => {
    const { token } = await newToken();
    const slug = await createPair(token);
    const ckpt = await tinyCheckpoint(70);
    const { meta: _meta, ...rest } = ckpt.manifest;
    const deep = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
    const json = JSON.stringify(rest).replace(/}$/, `,"meta":${deep}}`);
    await expectRefused(() => declare(token, slug, json), 400, 'invalid_manifest', /meta(\.a)+ nests deeper than 8/);
    // Deep nesting anywhere in the manifest is named, not stringified into a message.
    const deepList = '['.repeat(10_000) + ']'.repeat(10_000);
    for (const field of ['format', 'version'])
      await expectRefused(() => declare(token, slug, JSON.stringify(rest).replace(/}$/, `,"${field}":${deepList}}`).replace(`"${field}":`, `"_${field}":`)), 400, 'invalid_manifest', new RegExp(`${field}.*a list of 1`));
    const wide = JSON.stringify({ ...rest, meta: { notes: 'x'.repeat(17 * 1024) } });
    await expectRefused(() => declare(token, slug, wide), 400, 'invalid_manifest', /meta is larger than 16384 bytes/);
    const many = JSON.stringify({ ...rest, meta: { list: Array.from({ length: 20_000 }, () => 0) } });
    await expectRefused(() => declare(token, slug, many), 400, 'invalid_manifest', /meta is larger/);
  });

  it('takes meta up to 8 levels deep', async () => {
    const { token } = await newToken();
    const slug = await createPair(token);
    const ckpt = await tinyCheckpoint(71);
    let meta: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 7; i++) meta = { nest: meta };
    ckpt.manifest.meta = meta;
    const n = await publish(token, slug, ckpt);
    const v = await (await call(`/api/pairs/${slug}/versions/${n}`)).json<{ manifest: { meta: unknown } }>();
    expect(v.manifest.meta).toEqual(meta);
    ckpt.manifest.meta = { nest: meta };
    await expectRefused(() => declare(token, slug, JSON.stringify(ckpt.manifest)), 400, 'invalid_manifest', /nests deeper/);
  });
});

describe('sample images: the bytes decide', () => {
  it('stores the sniffed type and takes PNG, JPEG and WebP headers', async () => {
    const { token } = await newToken();
    const slug = await createPair(token);
    const cases: Array<[Uint8Array, string]> = [
      [PNG_1x1, 'image/png'],
      [jpegHeader(640, 480), 'image/jpeg'],
      [webpHeader(4096, 10), 'image/webp'],
    ];
    for (const [i, [bytes, type]] of cases.entries()) {
      const put = await call(`/api/pairs/${slug}/samples/A/${i}`, { method: 'PUT', token, body: bytes, headers: { 'Content-Type': `${type}; charset=binary` } });
      expect(put.status, await put.text()).toBe(204);
      const get = await call(`/api/pairs/${slug}/samples/A/${i}`);
      expect(get.headers.get('Content-Type')).toBe(type);
      expect(get.headers.get('X-Content-Type-Options')).toBe('nosniff');
      await get.arrayBuffer();
    }
  });

  it('refuses HTML sent as image/png, mismatched formats and oversized dimensions', async () => {
    const { token } = await newToken();
    const slug = await createPair(token);
    const put = (bytes: Uint8Array, type: string) => () => call(`/api/pairs/${slug}/samples/B/0`, { method: 'PUT', token, body: bytes, headers: { 'Content-Type': type } });
    const html = new TextEncoder().encode('<!doctype html><script>alert(document.cookie)</script>');
    await expectRefused(put(html, 'image/png'), 415, 'unsupported_media_type', /sent as image\/png but its bytes are not a PNG, JPEG or WebP/);
    await expectRefused(put(jpegHeader(10, 10), 'image/png'), 415, 'unsupported_media_type', /sent as image\/png but its bytes are image\/jpeg/);
    await expectRefused(put(pngHeader(5000, 10), 'image/png'), 400, 'bad_request', /4096 px a side; this one is 5000×10/);
    await expectRefused(put(jpegHeader(10, 4097), 'image/jpeg'), 400, 'bad_request', /10×4097/);
    await expectRefused(put(pngHeader(0, 10), 'image/png'), 415, 'unsupported_media_type', /0×10/);
    await expectRefused(put(PNG_1x1.slice(0, 20), 'image/png'), 415, 'unsupported_media_type', /IHDR/);
    await expectRefused(put(new Uint8Array([0xff, 0xd8, 0xff, 0xd9]), 'image/jpeg'), 415, 'unsupported_media_type', /frame header/);
    await expectRefused(put(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0xff, 0xff, 0, 0]), 'image/jpeg'), 415, 'unsupported_media_type');
    await expectRefused(put(new TextEncoder().encode('RIFF\0\0\0\0WEBPVP8 '), 'image/webp'), 415, 'unsupported_media_type', /WebP/);
  });
});

describe('headers', () => {
  it('sends nosniff on every API answer, errors included', async () => {
    for (const path of ['/api/pairs', '/api/openapi.json', '/api/nothing', `/api/pairs/${fixture.slug}`]) {
      const res = await call(path);
      expect(res.headers.get('X-Content-Type-Options'), path).toBe('nosniff');
      expect(res.headers.get('Content-Security-Policy'), path).toMatch(/default-src 'none'/);
      await res.arrayBuffer();
    }
    const refused = await call('/api/pairs', { method: 'POST', json: {} });
    expect(refused.headers.get('X-Content-Type-Options')).toBe('nosniff');
    await refused.arrayBuffer();
  });

  it('gives the web app a CSP, nosniff and a referrer policy', async () => {
    for (const path of ['/', '/pairs/some-pair']) {
      const res = await call(path);
      expect(res.headers.get('Content-Type')).toMatch(/text\/html/);
      const csp = res.headers.get('Content-Security-Policy') ?? '';
      expect(csp).toMatch(/script-src 'self' 'wasm-unsafe-eval'(;|$)/);
      expect(csp).toMatch(/frame-ancestors 'none'/);
      expect(csp).toMatch(/worker-src 'self' blob:/);
      expect(csp).not.toMatch(/unsafe-inline'[^;]*;?\s*$|script-src[^;]*unsafe-inline/);
      expect(res.headers.get('X-Content-Type-Options')).toBe('nosniff');
      expect(res.headers.get('Referrer-Policy')).toBe('strict-origin-when-cross-origin');
      await res.arrayBuffer();
    }
  });
});

describe('small oddities', () => {
  it('answers 415 with unsupported_media_type (was bad_request)', async () => {
    const { token } = await newToken();
    await expectRefused(() => call('/api/pairs', { method: 'POST', token, body: 'slug=x', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }), 415, 'unsupported_media_type', /Content-Type/);
    await expectRefused(() => call('/api/tokens', { method: 'POST', body: '{}', headers: { 'Content-Type': 'text/plain' } }), 415, 'unsupported_media_type');
  });

  it('names version 1 only as "1"', { timeout: 120_000 }, async () => {
    const { token } = await newToken();
    const slug = await createPair(token);
    await publish(token, slug, await tinyCheckpoint(72));
    const ok = await call(`/api/pairs/${slug}/versions/1`);
    expect(ok.status).toBe(200);
    await ok.arrayBuffer();
    for (const n of ['1e0', '0x1', '1.0', '%201', '01', '+1', '1%20', '0', '-1', '99999999999999999999']) {
      await expectRefused(() => call(`/api/pairs/${slug}/versions/${n}`), 400, 'bad_request', /number/);
      await expectRefused(() => call(`/api/pairs/${slug}/versions/${n}/commit`, { method: 'POST', token }), 400, 'bad_request', /number/);
    }
    for (const i of ['00', '0x0', '1e0', ' 0']) await expectRefused(() => call(`/api/pairs/${slug}/samples/A/${encodeURIComponent(i)}`), 400, 'bad_request', /index/);
  });

  it('answers a known path with an unknown method 405 and Allow', { timeout: 120_000 }, async () => {
    const cases: Array<[string, string, string]> = [
      ['DELETE', '/api/pairs', 'GET, HEAD, POST, OPTIONS'],
      ['PUT', `/api/pairs/${fixture.slug}`, 'GET, HEAD, PATCH, OPTIONS'],
      ['POST', '/api/shards/' + 'a'.repeat(64), 'GET, HEAD, PUT, OPTIONS'],
      ['GET', '/api/tokens', 'POST, OPTIONS'],
      ['POST', '/api/openapi.json', 'GET, HEAD, OPTIONS'],
      ['PATCH', `/api/pairs/${fixture.slug}/versions/current`, 'GET, HEAD, OPTIONS'],
      ['GET', `/api/pairs/${fixture.slug}/versions/1/commit`, 'POST, OPTIONS'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await call(path, { method });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get('Allow')).toBe(allow);
      expect((await res.json<any>()).error.code).toBe('method_not_allowed');
    }
  });

  it('answers /api and unknown /api/... paths with a JSON 404, never the app', async () => {
    for (const path of ['/api', '/api/', '/api/nothing', '/api/pairs/x/y/z/w', '/api/%', '/api/pairs/', '/api/..%2f']) {
      const res = await call(path);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('Content-Type'), path).toMatch(/application\/json/);
      expect((await res.json<any>()).error.code).toBe('not_found');
    }
  });

  it('takes an empty limit= as the default', async () => {
    const res = await call('/api/pairs?limit=');
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    await expectRefused(() => call('/api/pairs?limit=1e1'), 400, 'bad_request', /limit/);
    await expectRefused(() => call('/api/pairs?limit=0'), 400, 'bad_request', /limit/);
  });

  it('refuses control, bidi-override and invisible-only text, naming the field', { timeout: 120_000 }, async () => {
    const { token } = await newToken();
    const body = (over: object) => ({ slug: uniqueSlug(), title: 'T', domainA: 'a', domainB: 'b', licence: 'MIT', ...over });
    const bad: Array<[string, string]> = [
      ['title', 'a\u0000b'],
      ['title', 'line\nbreak'],
      ['domainA', 'x\u0007'],
      ['domainB', 'abc\u202e'],
      ['licence', '\u2066MIT\u2069'],
      ['title', '\u200b\u200c\u200d'],
      ['title', '\ufeff\u2060'],
      ['domainA', '\u3164'],
      ['description', 'ok\u0000'],
      ['description', 'ok\u202d'],
      ['description', '\u200b'],
      ['title', '\u0085x'],
    ];
    for (const [field, value] of bad)
      await expectRefused(() => call('/api/pairs', { method: 'POST', token, json: body({ [field]: value }) }), 400, 'bad_request', new RegExp(`"${field}"`));
    const slug = await createPair(token);
    await expectRefused(() => call(`/api/pairs/${slug}`, { method: 'PATCH', token, json: { title: '\u202ebad' } }), 400, 'bad_request', /"title"/);
    await expectRefused(() => call(`/api/pairs/${slug}/fork`, { method: 'POST', token, json: { slug: uniqueSlug(), title: '\u0001' } }), 400, 'bad_request', /"title"/);
    await expectRefused(() => call('/api/tokens', { method: 'POST', json: { name: 'me\u202e' } }), 400, 'bad_request', /"name"/);
    // Ordinary text, accents, emoji (with joiners) and a multi-line description are fine.
    const ok = await call('/api/pairs', { method: 'POST', token, json: body({ title: 'Été ↔ hiver 👩‍🎨', description: 'line one\nline two\ttabbed', domainA: 'שלום' }) });
    expect(ok.status, await ok.clone().text()).toBe(201);
    await ok.arrayBuffer();
  });
});

describe('write limits on every write route', () => {
  it('answers 429 with Retry-After once a token has spent its writes', { timeout: 120_000 }, async () => {
    const writes = tokenRoutes().filter((o) => o.method !== 'GET');
    expect(writes.map((o) => `${o.method} ${o.path}`)).toEqual(
      expect.arrayContaining(['PUT /api/shards/{hash}', 'PUT /api/pairs/{slug}/samples/{domain}/{index}', 'PUT /api/pairs/{slug}/round/leases/{lease}/deltas/{net}/{index}', 'DELETE /api/tokens/self']),
    );
    const limited = { ...env, WRITES_PER_MINUTE: '1' };
    for (const o of writes) {
      const t = await newToken();
      const slug = await createPair(t.token);
      const send = () =>
        app.request(`${BASE}${fill(o.path, slug)}`, { method: o.method, headers: { Authorization: `Bearer ${t.token}`, 'Content-Type': 'application/json', 'X-Shard-Sha256': 'a'.repeat(64) }, body: '{}' }, limited);
      // The one write this minute (refused or not, it counts), then the limit.
      const first = await send();
      await first.arrayBuffer();
      const res = await send();
      const text = await res.text();
      expect(res.status, `${o.method} ${o.path}: ${text}`).toBe(429);
      expect(JSON.parse(text).error.code).toBe('rate_limited');
      expect(Number(res.headers.get('Retry-After'))).toBeGreaterThan(0);
    }
  });
});
