/**
 * The web app's client for the Stripes API: the URLs and message shapes come from shared/api,
 * the same contract the worker validates against. Errors become one-line messages.
 */
import {
  api,
  type ErrorBody,
  type Pair,
  type PairCreate,
  type PairFork,
  type PairList,
  type Token,
  type Version,
  type VersionDeclared,
} from '../../../shared/api/index.ts';
import { validateManifest } from '../../../shared/weights/manifest.ts';
import type { VersionSummary } from '../../../shared/api/versions.ts';
import { roundPaths, type RoundConfigPatch, type RoundStatus } from '../../../shared/rounds/protocol.ts';
import type { CheckpointManifest } from '../../../shared/weights/format.ts';

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network', 'the server could not be reached');
  }
  if (!res.ok) {
    let body: Partial<ErrorBody> = {};
    try {
      body = await res.json();
    } catch {
      // not JSON: fall through to the status line
    }
    const e = body.error;
    throw new ApiError(res.status, e?.code ?? 'http', e?.message ?? `HTTP ${res.status} ${res.statusText}`.trim());
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

const json = (body: unknown, token?: string): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
  body: JSON.stringify(body),
});

export function listPairs(q: { q?: string; limit?: number; cursor?: string | null } = {}): Promise<PairList> {
  const params = new URLSearchParams();
  if (q.q) params.set('q', q.q);
  if (q.limit) params.set('limit', String(q.limit));
  if (q.cursor) params.set('cursor', q.cursor);
  const qs = params.toString();
  return request<PairList>(api.pairs() + (qs ? `?${qs}` : ''));
}

export const getPair = (slug: string) => request<Pair>(api.pair(slug));

export const listVersions = (slug: string) => request<{ versions: VersionSummary[] }>(api.versions(slug));

/** The owner points the pair's current version at another committed version (no bytes copied). */
export const rollback = (slug: string, version: number, token: string) =>
  request<Pair>(`${api.pair(slug)}/rollback`, json({ version }, token));

/** The pair's current version with its manifest checked by the same validator as every reader. */
export async function currentVersion(slug: string): Promise<Version> {
  const v = await request<Version>(api.current(slug));
  return { ...v, manifest: validateManifest(v.manifest) };
}

export const createToken = (name: string) => request<Token>(api.tokens(), json({ name }));

export const createPair = (body: PairCreate, token: string) => request<Pair>(api.pairs(), json(body, token));

export const forkPair = (slug: string, body: PairFork, token: string) => request<Pair>(api.fork(slug), json(body, token));

export const declareVersion = (slug: string, manifest: CheckpointManifest, token: string) =>
  request<VersionDeclared>(api.versions(slug), json({ manifest }, token));

export const putShard = (hash: string, bytes: Uint8Array, token: string) =>
  request<{ hash: string; size: number; created: boolean }>(api.shard(hash), {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${token}` },
    body: bytes as Uint8Array<ArrayBuffer>,
  });

export const commitVersion = (slug: string, n: number, token: string) =>
  request<Version>(api.commit(slug, n), json({}, token));

/** The pair's training round: state, quorum, deadline, settings and history. */
export const getRound = (slug: string) => request<RoundStatus>(roundPaths.round(slug));

/** Absolute URL prefix for shards, which the translator worker appends a hash to. */
export const shardBase = () => new URL(api.shard(''), location.href).href;

/** Sets gallery sample `index` of a domain (PNG, JPEG or WebP, at most 256 KiB). */
export const putSample = (slug: string, domain: 'A' | 'B', index: number, file: Blob, token: string) =>
  request<void>(api.sample(slug, domain, index), {
    method: 'PUT',
    headers: { 'content-type': file.type, authorization: `Bearer ${token}` },
    body: file,
  });

/** One version of a pair, its manifest checked like the current one's. */
export async function getVersion(slug: string, n: number): Promise<Version> {
  const v = await request<Version>(api.version(slug, n));
  return { ...v, manifest: validateManifest(v.manifest) };
}

/** Changes the pair's round settings (owner only); they apply from the next lease. */
export const putRoundConfig = (slug: string, patch: RoundConfigPatch, token: string) =>
  request<RoundStatus>(roundPaths.config(slug), { ...json(patch, token), method: 'PUT' });

/** Puts the pair's held-out validation set for one domain (owner only; the `STRV` format of validation-upload.ts). */
export const putValidationSet = (slug: string, domain: 'A' | 'B', bytes: Uint8Array, token: string) =>
  request<unknown>(`${api.pair(slug)}/validation/${domain}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${token}` },
    body: bytes as Uint8Array<ArrayBuffer>,
  });
