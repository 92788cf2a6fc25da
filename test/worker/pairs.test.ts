/** The pair registry routes: create, get, list, update, fork, and every way to get them wrong. */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { call, createPair, expectRefused, newToken, publish, snapshot, tinyCheckpoint, uniqueSlug } from './helpers.ts';
import { PNG_1x1 } from './images.ts';

const pairBody = (slug: string) => ({ slug, title: 'Horse to zebra', domainA: 'horse', domainB: 'zebra', licence: 'MIT' });

describe('tokens', () => {
  it('issues a signed token and records its id', async () => {
    const t = await newToken('alice');
    expect(t.token).toMatch(/^stp_[A-Za-z0-9_-]{16}\.[0-9]+\.[A-Za-z0-9_-]{43}$/);
    const row = await env.DB.prepare('SELECT name FROM tokens WHERE id = ?').bind(t.id).first<{ name: string }>();
    expect(row?.name).toBe('alice');
  });

  it('refuses malformed JSON and wrong types', async () => {
    await expectRefused(() => call('/api/tokens', { method: 'POST', body: '{"name":', headers: { 'Content-Type': 'application/json' } }), 400, 'bad_request', /JSON/i);
    await expectRefused(() => call('/api/tokens', { method: 'POST', json: { name: 42 } }), 400, 'bad_request', /name/);
  });
});

describe('create', () => {
  it('makes the token the owner', async () => {
    const t = await newToken();
    const slug = uniqueSlug();
    const res = await call('/api/pairs', { method: 'POST', token: t.token, json: pairBody(slug) });
    expect(res.status).toBe(201);
    const pair = await res.json<any>();
    expect(pair).toMatchObject({ slug, owner: t.id, currentVersion: null, forkedFrom: null, description: '', samples: { A: [], B: [] } });
    const row = await env.DB.prepare('SELECT owner, title FROM pairs WHERE slug = ?').bind(slug).first();
    expect(row).toEqual({ owner: t.id, title: 'Horse to zebra' });
  });

  it('refuses a missing, malformed or forged token', async () => {
    const t = await newToken();
    const slug = uniqueSlug();
    await expectRefused(() => call('/api/pairs', { method: 'POST', json: pairBody(slug) }), 401, 'unauthorized', /token/);
    await expectRefused(() => call('/api/pairs', { method: 'POST', json: pairBody(slug), headers: { Authorization: 'Basic abc' } }), 401, 'unauthorized');
    const head = t.token.slice(0, t.token.lastIndexOf('.'));
    const sig = t.token.slice(t.token.lastIndexOf('.') + 1);
    const forged = `${head}.${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`;
    await expectRefused(() => call('/api/pairs', { method: 'POST', token: forged, json: pairBody(slug) }), 401, 'invalid_token');
    // Someone else's id with a signature made under another secret.
    await expectRefused(() => call('/api/pairs', { method: 'POST', token: `stp_${'A'.repeat(16)}${head.slice(20)}.${sig}`, json: pairBody(slug) }), 401, 'invalid_token');
  });

  it('refuses malformed JSON, wrong types, unknown fields and a bad slug', async () => {
    const { token } = await newToken();
    const slug = uniqueSlug();
    const headers = { 'Content-Type': 'application/json' };
    await expectRefused(() => call('/api/pairs', { method: 'POST', token, headers, body: '{"slug": "x",' }), 400, 'bad_request', /JSON/i);
    await expectRefused(() => call('/api/pairs', { method: 'POST', token, json: { ...pairBody(slug), title: 5 } }), 400, 'bad_request', /"title"/);
    await expectRefused(() => call('/api/pairs', { method: 'POST', token, json: { ...pairBody(slug), domainB: undefined } }), 400, 'bad_request', /"domainB"/);
    await expectRefused(() => call('/api/pairs', { method: 'POST', token, json: { ...pairBody(slug), owner: 'me' } }), 400, 'bad_request', /owner/);
    await expectRefused(() => call('/api/pairs', { method: 'POST', token, json: { ...pairBody('Bad Slug!') } }), 400, 'bad_request', /"slug"/);
    await expectRefused(() => call('/api/pairs', { method: 'POST', token, json: [1, 2] }), 400, 'bad_request');
  });

  it('refuses an oversized body before reading it', async () => {
    const { token } = await newToken();
    const body = { ...pairBody(uniqueSlug()), description: 'x'.repeat(20_000) };
    await expectRefused(() => call('/api/pairs', { method: 'POST', token, json: body }), 413, 'payload_too_large', /16384/);
  });

  it('refuses a taken slug', async () => {
    const a = await newToken();
    const b = await newToken();
    const slug = await createPair(a.token);
    await expectRefused(() => call('/api/pairs', { method: 'POST', token: b.token, json: pairBody(slug) }), 409, 'conflict', /taken/);
  });
});

describe('get and list', () => {
  it('gets one pair and answers 404 for an unknown one', async () => {
    const { token } = await newToken();
    const slug = await createPair(token);
    const res = await call(`/api/pairs/${slug}`);
    expect(res.status).toBe(200);
    expect((await res.json<any>()).slug).toBe(slug);
    await expectRefused(() => call('/api/pairs/no-such-pair'), 404, 'not_found', /no-such-pair/);
    await expectRefused(() => call('/api/pairs/NOT_A_SLUG'), 400, 'bad_request', /slug/);
  });

  it('pages through pairs newest first and filters by text', async () => {
    const { token } = await newToken();
    const tag = `zq${Math.random().toString(36).slice(2, 7)}`;
    const made: string[] = [];
    for (let i = 0; i < 5; i++) {
      const slug = `${tag}-${i}`;
      const res = await call('/api/pairs', { method: 'POST', token, json: { ...pairBody(slug), title: `Pair ${i}` } });
      expect(res.status).toBe(201);
      made.push(slug);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await call(`/api/pairs?q=${tag}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(res.status).toBe(200);
      const page = await res.json<{ pairs: Array<{ slug: string }>; next: string | null }>();
      expect(page.pairs.length).toBeLessThanOrEqual(2);
      seen.push(...page.pairs.map((p) => p.slug));
      cursor = page.next;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect([...seen].sort()).toEqual([...made].sort());
    expect(new Set(seen).size).toBe(5);

    const one = await (await call(`/api/pairs?q=${tag}-3`)).json<{ pairs: Array<{ slug: string }> }>();
    expect(one.pairs.map((p) => p.slug)).toEqual([`${tag}-3`]);
    // LIKE wildcards in the filter are literal.
    expect((await (await call(`/api/pairs?q=${tag}%25`)).json<any>()).pairs).toEqual([]);
    await expectRefused(() => call('/api/pairs?limit=0'), 400, 'bad_request', /limit/);
    await expectRefused(() => call('/api/pairs?limit=abc'), 400, 'bad_request', /limit/);
    await expectRefused(() => call('/api/pairs?cursor=garbage'), 400, 'bad_request', /cursor/);
  });
  it('lists pairs that translate first, then those with pictures, however many bare pairs came after', async () => {
    const { token } = await newToken();
    const tag = `zr${Math.random().toString(36).slice(2, 7)}`;
    const create = async (name: string) => {
      const res = await call('/api/pairs', { method: 'POST', token, json: pairBody(`${tag}-${name}`) });
      expect(res.status).toBe(201);
      return `${tag}-${name}`;
    };
    // Oldest first: the working pair, then one with a picture only, then a flood of bare ones.
    const working = await create('working');
    await publish(token, working, await tinyCheckpoint(7));
    const pictured = await create('pictured');
    const put = await call(`/api/pairs/${pictured}/samples/A/0`, { method: 'PUT', token, body: PNG_1x1, headers: { 'Content-Type': 'image/png' } });
    expect(put.status).toBe(204);
    const bare = [];
    for (let i = 0; i < 4; i++) bare.push(await create(`bare${i}`));

    const first = await (await call(`/api/pairs?q=${tag}&limit=1`)).json<{ pairs: Array<{ slug: string }> }>();
    expect(first.pairs.map((p) => p.slug)).toEqual([working]);
    // Paging one at a time walks the same order, each pair exactly once.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { pairs: Array<{ slug: string }>; next: string | null } = await (
        await call(`/api/pairs?q=${tag}&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
      ).json();
      seen.push(...page.pairs.map((p) => p.slug));
      cursor = page.next;
    } while (cursor && seen.length < 10);
    expect(seen).toEqual([working, pictured, ...bare.reverse()]);
    // A cursor of the old two-field shape, or with a rank out of range, is refused, not misread.
    const old = btoa(JSON.stringify(['2026-01-01T00:00:00.000Z', working])).replace(/=+$/, '');
    await expectRefused(() => call(`/api/pairs?cursor=${old}`), 400, 'bad_request', /cursor/);
    const bad = btoa(JSON.stringify([9, '2026-01-01T00:00:00.000Z', working])).replace(/=+$/, '');
    await expectRefused(() => call(`/api/pairs?cursor=${bad}`), 400, 'bad_request', /cursor/);
  });
});

describe('update', () => {
  it('lets the owner change fields', async () => {
    const { token } = await newToken();
    const slug = await createPair(token);
    const res = await call(`/api/pairs/${slug}`, { method: 'PATCH', token, json: { title: 'Summer to winter', description: 'seasons' } });
    expect(res.status).toBe(200);
    expect(await res.json<any>()).toMatchObject({ title: 'Summer to winter', description: 'seasons', domainA: 'horse' });
    const row = await env.DB.prepare('SELECT title FROM pairs WHERE slug = ?').bind(slug).first();
    expect(row).toEqual({ title: 'Summer to winter' });
  });

  it("refuses another owner's token, no token, unknown pairs and bad fields", async () => {
    const owner = await newToken();
    const other = await newToken();
    const slug = await createPair(owner.token);
    await expectRefused(() => call(`/api/pairs/${slug}`, { method: 'PATCH', token: other.token, json: { title: 'mine now' } }), 403, 'forbidden', /owner/);
    await expectRefused(() => call(`/api/pairs/${slug}`, { method: 'PATCH', json: { title: 'mine now' } }), 401, 'unauthorized');
    await expectRefused(() => call('/api/pairs/nobody-here', { method: 'PATCH', token: owner.token, json: { title: 'x' } }), 404, 'not_found');
    await expectRefused(() => call(`/api/pairs/${slug}`, { method: 'PATCH', token: owner.token, json: {} }), 400, 'bad_request', /at least one/);
    await expectRefused(() => call(`/api/pairs/${slug}`, { method: 'PATCH', token: owner.token, json: { licence: ['MIT'] } }), 400, 'bad_request', /"licence"/);
    await expectRefused(() => call(`/api/pairs/${slug}`, { method: 'PATCH', token: owner.token, json: { slug: 'renamed' } }), 400, 'bad_request', /slug/);
  });

  it('limits writes per token', { timeout: 30_000 }, async () => {
    const { token } = await newToken();
    const slug = await createPair(token); // the first write
    // WRITES_PER_MINUTE is 40 in the test config. A minute boundary during the loop resets the
    // window once, so the first 429 comes after 39 to 79 further writes.
    let passed = 0;
    let refused: Response | null = null;
    for (let i = 0; i < 80 && !refused; i++) {
      const res = await call(`/api/pairs/${slug}`, { method: 'PATCH', token, json: { description: `v${i}` } });
      if (res.status === 429) refused = res;
      else {
        expect(res.status).toBe(200);
        passed++;
      }
    }
    expect(refused).not.toBeNull();
    expect(passed).toBeGreaterThanOrEqual(39);
    expect(refused!.headers.get('Retry-After')).toMatch(/^\d+$/);
    expect((await refused!.json<any>()).error.code).toBe('rate_limited');
    // The limit is per token: another token still writes.
    const other = await newToken();
    await createPair(other.token);
  });
});

describe('fork', () => {
  it('copies the lineage pointer and the manifest, not the bytes', async () => {
    const owner = await newToken();
    const forker = await newToken();
    const src = await createPair(owner.token);
    const ckpt = await tinyCheckpoint(7);
    await publish(owner.token, src, ckpt);
    const keysBefore = ((await snapshot()) as { keys: string[] }).keys;
    const slug = uniqueSlug('fork');
    const res = await call(`/api/pairs/${src}/fork`, { method: 'POST', token: forker.token, json: { slug } });
    expect(res.status, await res.clone().text()).toBe(201);
    expect(await res.json<any>()).toMatchObject({ slug, owner: forker.id, forkedFrom: { slug: src, version: 1 }, currentVersion: 1, domainA: 'horse' });
    const cur = await (await call(`/api/pairs/${slug}/versions/current`)).json<any>();
    expect(cur.manifest).toEqual(ckpt.manifest);
    expect(((await snapshot()) as { keys: string[] }).keys).toEqual(keysBefore);
    // The source is untouched.
    expect((await (await call(`/api/pairs/${src}`)).json<any>()).owner).toBe(owner.id);
  });

  it('forks a pair with no version yet, and refuses taken slugs and unknown sources', async () => {
    const owner = await newToken();
    const src = await createPair(owner.token);
    const slug = uniqueSlug('fork');
    const res = await call(`/api/pairs/${src}/fork`, { method: 'POST', token: owner.token, json: { slug, title: 'Mine' } });
    expect(res.status).toBe(201);
    expect(await res.json<any>()).toMatchObject({ title: 'Mine', currentVersion: null, forkedFrom: { slug: src, version: null } });
    await expectRefused(() => call(`/api/pairs/${src}/fork`, { method: 'POST', token: owner.token, json: { slug } }), 409, 'conflict');
    await expectRefused(() => call('/api/pairs/not-there/fork', { method: 'POST', token: owner.token, json: { slug: uniqueSlug() } }), 404, 'not_found');
    await expectRefused(() => call(`/api/pairs/${src}/fork`, { method: 'POST', json: { slug: uniqueSlug() } }), 401, 'unauthorized');
  });
});
