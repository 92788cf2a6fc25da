import { createRoute, z } from '@hono/zod-openapi';
import { SlugSchema } from '../../shared/api/pairs.ts';
import { decimal } from '../../shared/api/params.ts';
import { GENERATORS } from '../../shared/model/config.ts';
import { RollbackSchema, VersionDeclaredSchema, VersionDeclareSchema, VersionListSchema, VersionSchema } from '../../shared/api/versions.ts';
import { PairSchema } from '../../shared/api/pairs.ts';
import { allShards, ManifestError, validateManifest } from '../../shared/weights/manifest.ts';
import { ApiError, notFound } from '../errors.ts';
import { assertOwner, MANIFEST_BODY_LIMIT, requireToken, sizeLimit, writeLimit } from '../middleware.ts';
import { Registry, type StoredVersion } from '../registry.ts';
import { Storage } from '../storage.ts';
import { bearer, errors, json, newRouter } from './common.ts';

export const versions = newRouter();
const SlugParam = z.object({ slug: SlugSchema });
const VersionParam = z.object({ slug: SlugSchema, number: decimal(1, Number.MAX_SAFE_INTEGER) });

async function existingPair(registry: Registry, slug: string) {
  const pair = await registry.getPair(slug);
  if (!pair) throw notFound(`no pair "${slug}"`);
  return pair;
}

/**
 * A committed version never changes, so (slug, number) is a strong validator: a client polling
 * "current" gets a 304 until a new version is committed.
 */
function versionEtag(v: StoredVersion): string {
  return `"${v.slug}.v${v.number}"`;
}

function notModified(ifNoneMatch: string | undefined, etag: string): boolean {
  return !!ifNoneMatch && ifNoneMatch.split(',').some((t) => t.trim() === etag || t.trim() === '*');
}

function versionResponse(v: StoredVersion) {
  return {
    slug: v.slug,
    number: v.number,
    state: v.state,
    createdAt: v.createdAt,
    committedAt: v.committedAt,
    source: v.source,
    round: v.round,
    gate: v.gate,
    manifest: v.manifest as unknown as Record<string, unknown>,
  };
}

versions.openapi(
  createRoute({
    method: 'get',
    path: '/pairs/{slug}/versions',
    operationId: 'listVersions',
    tags: ['versions'],
    summary: 'List the committed versions of a pair',
    description: 'Numbers and commit times, oldest first; pending versions are not listed.',
    security: [],
    request: { params: SlugParam },
    responses: { 200: json(VersionListSchema, 'Committed versions, oldest first'), 400: errors[400], 404: errors[404] },
  }),
  async (c) => {
    const { slug } = c.req.valid('param');
    const registry = new Registry(c.env.DB);
    await existingPair(registry, slug);
    return c.json({ versions: await registry.committedVersions(slug) }, 200);
  },
);

versions.openapi(
  createRoute({
    method: 'get',
    path: '/pairs/{slug}/versions/current',
    operationId: 'getCurrentVersion',
    tags: ['versions'],
    summary: "The pair's current version and its manifest",
    description: '`Cache-Control: no-cache` with a strong ETag: 304 on If-None-Match until a new version is committed.',
    security: [],
    request: { params: SlugParam },
    responses: { 200: json(VersionSchema, 'The current version'), 304: { description: 'Still the version named by If-None-Match' }, 400: errors[400], 404: errors[404] },
  }),
  async (c) => {
    const { slug } = c.req.valid('param');
    const registry = new Registry(c.env.DB);
    const v = await registry.currentVersion(slug);
    if (!v) {
      await existingPair(registry, slug);
      throw notFound(`pair "${slug}" has no committed version yet`);
    }
    // "current" moves when a version is committed, so caches must revalidate it.
    const headers = { 'Cache-Control': 'no-cache', ETag: versionEtag(v) };
    if (notModified(c.req.header('If-None-Match'), headers.ETag)) return c.body(null, 304, headers);
    return c.json(versionResponse(v), 200, headers);
  },
);

versions.openapi(
  createRoute({
    method: 'get',
    path: '/pairs/{slug}/versions/{number}',
    operationId: 'getVersion',
    tags: ['versions'],
    summary: 'A committed version and its manifest',
    description: 'Immutable once committed. The number is plain decimal (`1`, never `01` or `1e0`).',
    security: [],
    request: { params: VersionParam },
    responses: { 200: json(VersionSchema, 'The version'), 304: { description: 'Not modified' }, 400: errors[400], 404: errors[404] },
  }),
  async (c) => {
    const { slug, number } = c.req.valid('param');
    const registry = new Registry(c.env.DB);
    await existingPair(registry, slug);
    const v = await registry.getVersion(slug, number);
    // A pending version is half-uploaded: it is never served.
    if (!v || v.state !== 'committed') throw notFound(`pair "${slug}" has no committed version ${number}`);
    const headers = { 'Cache-Control': 'public, max-age=31536000, immutable', ETag: versionEtag(v) };
    if (notModified(c.req.header('If-None-Match'), headers.ETag)) return c.body(null, 304, headers);
    return c.json(versionResponse(v), 200, headers);
  },
);

versions.openapi(
  createRoute({
    method: 'post',
    path: '/pairs/{slug}/versions',
    operationId: 'declareVersion',
    tags: ['versions'],
    summary: 'Declare a new version by its manifest (owner only)',
    description: 'Then PUT its shards and commit it. Answers which shards are already stored. Re-declaring the same manifest resumes; a different one replaces the pending one.',
    security: bearer,
    middleware: [requireToken, writeLimit, sizeLimit(MANIFEST_BODY_LIMIT, 'a manifest')] as const,
    request: { params: SlugParam, body: { required: true, content: { 'application/json': { schema: VersionDeclareSchema } } } },
    responses: {
      201: json(VersionDeclaredSchema, 'The pending version and which of its shards are already stored'),
      400: errors[400],
      401: errors[401],
      403: errors[403],
      404: errors[404],
      413: errors[413],
      429: errors[429],
    },
  }),
  async (c) => {
    const { slug } = c.req.valid('param');
    const registry = new Registry(c.env.DB);
    await assertOwner(registry, slug, c.var.tokenId);
    let manifest;
    try {
      manifest = validateManifest(c.req.valid('json').manifest);
    } catch (e) {
      if (e instanceof ManifestError) throw new ApiError(400, 'invalid_manifest', e.message);
      throw e;
    }
    // Browsers download the float16 copy of a generator: a version must carry one for each.
    const noHalf = GENERATORS.filter((g) => manifest.groups[g] && !manifest.variants?.float16?.[g]);
    if (noHalf.length)
      throw new ApiError(
        400,
        'invalid_manifest',
        `manifest: variants.float16 must hold a copy of every generator; missing ${noHalf.join(', ')} (encodeCheckpoint makes them by default)`,
      );
    const number = await registry.declareVersion(slug, manifest);
    const storage = new Storage(c.env.WEIGHTS);
    const shards = await registry.versionShards(slug, number);
    const present = await Promise.all(shards.map(async (s) => (await storage.shardSize(s.hash)) === s.size));
    return c.json(
      { slug, number, state: 'pending' as const, shards: shards.map((s, i) => ({ ...s, present: present[i] })) },
      201,
    );
  },
);

versions.openapi(
  createRoute({
    method: 'post',
    path: '/pairs/{slug}/versions/{number}/commit',
    operationId: 'commitVersion',
    tags: ['versions'],
    summary: 'Make a pending version current (owner only)',
    description: 'Only once every shard it names is stored; else 409 `shards_missing` naming them.',
    security: bearer,
    middleware: [requireToken, writeLimit] as const,
    request: { params: VersionParam },
    responses: {
      200: json(VersionSchema, 'The committed version, now current'),
      400: errors[400],
      401: errors[401],
      403: errors[403],
      404: errors[404],
      409: errors[409],
      429: errors[429],
    },
  }),
  async (c) => {
    const { slug, number } = c.req.valid('param');
    const registry = new Registry(c.env.DB);
    await assertOwner(registry, slug, c.var.tokenId);
    const v = await registry.getVersion(slug, number);
    if (!v) throw notFound(`pair "${slug}" has no version ${number}`);
    if (v.state !== 'pending') throw new ApiError(409, 'conflict', `version ${number} of "${slug}" is already committed`);
    const storage = new Storage(c.env.WEIGHTS);
    // The shards of exactly the manifest read above: the commit below only lands if the pending
    // version is still that manifest, so a re-declare racing this request cannot slip in unchecked shards.
    const shards = allShards(v.manifest);
    const sizes = await Promise.all(shards.map((s) => storage.shardSize(s.hash)));
    const missing = shards.filter((s, i) => sizes[i] !== s.size).map((s) => s.hash);
    if (missing.length)
      throw new ApiError(
        409,
        'shards_missing',
        `version ${number} of "${slug}" names ${missing.length} of ${shards.length} shards that are not uploaded: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', …' : ''}`,
      );
    if (!(await registry.commitVersion(slug, number, v.manifest)))
      throw new ApiError(409, 'conflict', `version ${number} of "${slug}" is no longer pending, or was re-declared with another manifest while committing: check it and commit again`);
    return c.json(versionResponse((await registry.getVersion(slug, number))!), 200);
  },
);

versions.openapi(
  createRoute({
    method: 'post',
    path: '/pairs/{slug}/rollback',
    operationId: 'rollback',
    summary: "Point the pair's current version at an earlier (or later) committed version (owner only); no bytes are copied, and the round history records it",
    security: bearer,
    middleware: [requireToken, writeLimit, sizeLimit(1024, 'a rollback')] as const,
    request: { params: SlugParam, body: { required: true, content: { 'application/json': { schema: RollbackSchema } } } },
    responses: {
      200: json(PairSchema, 'The pair, with its new current version'),
      400: errors[400],
      401: errors[401],
      403: errors[403],
      404: errors[404],
      409: errors[409],
      429: errors[429],
    },
  }),
  async (c) => {
    const { slug } = c.req.valid('param');
    const { version } = c.req.valid('json');
    const registry = new Registry(c.env.DB);
    await assertOwner(registry, slug, c.var.tokenId);
    const before = (await existingPair(registry, slug)).currentVersion;
    const res = await registry.setCurrent(slug, version);
    if (res === 'no_version') throw notFound(`pair "${slug}" has no committed version ${version}`);
    if (res === 'not_eligible')
      throw new ApiError(409, 'conflict', `version ${version} of "${slug}" did not pass the quality gate (or is still being checked), so it cannot be made current`);
    if (before !== version) await c.env.ROUNDS.get(c.env.ROUNDS.idFromName(slug)).rolledBack(version, before);
    return c.json((await registry.getPair(slug))!, 200);
  },
);
