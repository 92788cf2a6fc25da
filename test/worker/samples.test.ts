/** Gallery images, the OpenAPI document, errors for unknown routes, the web app outside /api. */
import { describe, expect, it } from 'vitest';
import { call, createPair, expectRefused, newToken } from './helpers.ts';
import { PNG_1x1 as PNG } from './images.ts';

describe('samples', () => {
  it('stores a sample image for the owner and lists it on the pair', async () => {
    const { token } = await newToken();
    const slug = await createPair(token);
    const put = await call(`/api/pairs/${slug}/samples/A/0`, { method: 'PUT', token, body: PNG, headers: { 'Content-Type': 'image/png' } });
    expect(put.status).toBe(204);
    const get = await call(`/api/pairs/${slug}/samples/A/0`);
    expect(get.status).toBe(200);
    expect(get.headers.get('Content-Type')).toBe('image/png');
    expect(new Uint8Array(await get.arrayBuffer())).toEqual(PNG);
    const pair = await (await call(`/api/pairs/${slug}`)).json<any>();
    expect(pair.samples).toEqual({ A: [`/api/pairs/${slug}/samples/A/0`], B: [] });
  });

  it('refuses other owners, other media types, oversized images and bad indices', async () => {
    const owner = await newToken();
    const other = await newToken();
    const slug = await createPair(owner.token);
    const png = { 'Content-Type': 'image/png' };
    await expectRefused(() => call(`/api/pairs/${slug}/samples/A/0`, { method: 'PUT', token: other.token, body: PNG, headers: png }), 403, 'forbidden');
    await expectRefused(
      () => call(`/api/pairs/${slug}/samples/A/0`, { method: 'PUT', token: owner.token, body: PNG, headers: { 'Content-Type': 'text/html' } }),
      415,
      'unsupported_media_type',
    );
    await expectRefused(
      () => call(`/api/pairs/${slug}/samples/B/1`, { method: 'PUT', token: owner.token, body: new Uint8Array(300 * 1024), headers: png }),
      413,
      'payload_too_large',
    );
    await expectRefused(() => call(`/api/pairs/${slug}/samples/C/0`, { method: 'PUT', token: owner.token, body: PNG, headers: png }), 400, 'bad_request', /domain/);
    await expectRefused(() => call(`/api/pairs/${slug}/samples/A/9`, { method: 'PUT', token: owner.token, body: PNG, headers: png }), 400, 'bad_request', /index/);
    await expectRefused(() => call(`/api/pairs/${slug}/samples/A/0`), 404, 'not_found');
  });
});

describe('the API surface', () => {
  it('publishes an OpenAPI document generated from the route schemas', async () => {
    const res = await call('/api/openapi.json');
    expect(res.status).toBe(200);
    const doc = await res.json<any>();
    expect(doc.openapi).toBe('3.1.0');
    for (const path of ['/api/tokens', '/api/pairs', '/api/pairs/{slug}', '/api/pairs/{slug}/fork', '/api/pairs/{slug}/versions', '/api/pairs/{slug}/versions/current', '/api/pairs/{slug}/versions/{number}', '/api/pairs/{slug}/versions/{number}/commit', '/api/shards/{hash}'])
      expect(Object.keys(doc.paths)).toContain(path);
    expect(doc.paths['/api/pairs'].post.requestBody.content['application/json'].schema.required).toEqual(
      expect.arrayContaining(['slug', 'title', 'domainA', 'domainB', 'licence']),
    );
  });

  it('lets pages on other origins read pairs, manifests and shards', async () => {
    const pre = await call('/api/pairs', { method: 'OPTIONS', headers: { Origin: 'https://elsewhere.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'if-none-match' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('Access-Control-Allow-Origin')).toBe('*');
    expect(pre.headers.get('Access-Control-Allow-Methods')).toBe('GET,HEAD');
    expect(pre.headers.get('Access-Control-Allow-Headers')).toMatch(/if-none-match/i);
    const res = await call('/api/pairs', { headers: { Origin: 'https://elsewhere.example' } });
    expect(res.headers.get('Access-Control-Allow-Origin')).toBe('*');
    expect(res.headers.get('Access-Control-Expose-Headers')).toMatch(/ETag/);
    await res.arrayBuffer();
  });

  it('answers unknown API routes with the JSON error shape', async () => {
    await expectRefused(() => call('/api/nothing-here'), 404, 'not_found', /nothing-here/);
  });

  it('serves the web app outside /api', async () => {
    const res = await call('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('Content-Type')).toMatch(/text\/html/);
    await res.arrayBuffer();
  });
});
