/** The guards under the routes: rate-limit windows, token issuance limits, uploads without a length, and 500s that leak nothing. */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { app } from '../../worker/app.ts';
import { hit } from '../../worker/rate-limit.ts';
import { call, createPair, expectRefused, newToken, tinyCheckpoint } from './helpers.ts';

describe('rate limits', () => {
  it('counts per key and per window', async () => {
    const t = Date.UTC(2026, 0, 1, 12, 0, 10);
    const key = `test:${Math.random()}`;
    expect((await hit(env.DB, key, 2, 60, t)).ok).toBe(true);
    expect((await hit(env.DB, key, 2, 60, t + 1000)).ok).toBe(true);
    const third = await hit(env.DB, key, 2, 60, t + 2000);
    expect(third).toEqual({ ok: false, retryAfter: 48 });
    expect((await hit(env.DB, `${key}-other`, 2, 60, t + 2000)).ok).toBe(true);
    // The next window starts afresh, and the old window's row is dropped.
    expect((await hit(env.DB, key, 2, 60, t + 60_000)).ok).toBe(true);
    const rows = await env.DB.prepare('SELECT COUNT(*) AS n FROM rate_limits WHERE key = ?').bind(key).first<{ n: number }>();
    expect(rows!.n).toBe(1);
  });

  it('limits tokens per client address', async () => {
    const limited = { ...env, TOKENS_PER_HOUR: '2' };
    const mint = async () =>
      app.request('/api/tokens', { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json', 'CF-Connecting-IP': '203.0.113.9' } }, limited);
    expect((await mint()).status).toBe(201);
    expect((await mint()).status).toBe(201);
    await expectRefused(mint, 429, 'rate_limited', /tokens per hour/);
  });
});

describe('uploads', () => {
  it('refuses a shard upload without Content-Length', async () => {
    const { token } = await newToken();
    const slug = await createPair(token);
    const ckpt = await tinyCheckpoint(30);
    await call(`/api/pairs/${slug}/versions`, { method: 'POST', token, json: { manifest: ckpt.manifest } });
    const [hash, bytes] = [...ckpt.shards][0];
    const stream = () =>
      new ReadableStream({
        start(c) {
          c.enqueue(bytes);
          c.close();
        },
      });
    await expectRefused(() => call(`/api/shards/${hash}`, { method: 'PUT', token, body: stream() }), 411, 'length_required');
  });
});

describe('unexpected failures', () => {
  it('answers 500 without internals when the deployment has no TOKEN_SECRET', async () => {
    const res = await app.request('/api/tokens', { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } }, { ...env, TOKEN_SECRET: '' });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { code: 'internal', message: 'internal error' } });
  });
});
