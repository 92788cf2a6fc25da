/**
 * Talking to a Stripes server from Node: a small API client (JSON in, `{error}` out as one-line
 * CliErrors), a CheckpointSource that reads a pair's version over HTTP (so `translate --model URL`
 * works like a folder), and publishing a checkpoint (declare, upload missing shards, commit).
 */
import type { CheckpointSource } from './checkpoint-dir.ts';
import { CliError } from './errors.ts';
import { api } from '../shared/api/paths.ts';
import type { Pair, PairCreate } from '../shared/api/pairs.ts';
import type { Token } from '../shared/api/tokens.ts';
import { publishVersion, PublishError, type Published } from '../shared/api/publish.ts';
import { verifyShard } from '../shared/weights/checkpoint.ts';
import type { CheckpointManifest } from '../shared/weights/format.ts';
import { allShards, isShardName, validateManifest } from '../shared/weights/manifest.ts';

export class ApiClient {
  readonly server: string;

  constructor(
    server: string,
    readonly token?: string,
  ) {
    let url: URL;
    try {
      url = new URL(server);
    } catch {
      throw new CliError(`--server ${JSON.stringify(server)} is not a URL (expected e.g. http://127.0.0.1:8787)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(`--server must be http:// or https://, got ${server}`);
    this.server = url.origin;
  }

  /** Sends a request; on a 4xx/5xx throws the server's `{error: {message}}` as a CliError. `allow` lists statuses returned instead. */
  async request(method: string, path: string, init: { json?: unknown; body?: Uint8Array; contentType?: string; allow?: number[]; auth?: boolean } = {}): Promise<Response> {
    const headers: Record<string, string> = {};
    if (init.auth !== false && this.token) headers.Authorization = `Bearer ${this.token}`;
    let body: BodyInit | undefined;
    if (init.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(init.json);
    } else if (init.body) {
      headers['Content-Type'] = init.contentType ?? 'application/octet-stream';
      body = init.body as Uint8Array<ArrayBuffer>;
    }
    let res: Response;
    try {
      res = await fetch(this.server + path, { method, headers, body });
    } catch (e) {
      throw new CliError(`cannot reach ${this.server} (${(e as Error).cause ?? (e as Error).message})`);
    }
    if (res.ok || init.allow?.includes(res.status)) return res;
    let message = `${res.status} ${res.statusText}`;
    try {
      const err = (await res.json()) as { error?: { message?: string } };
      if (err.error?.message) message = err.error.message;
    } catch {
      // not our JSON error (a proxy's page): the status line says enough
    }
    throw new CliError(`${method} ${this.server}${path}: ${message}`);
  }

  async json<T>(method: string, path: string, json?: unknown): Promise<T> {
    return (await (await this.request(method, path, { json })).json()) as T;
  }
}

/**
 * Reads `URL` as a pair or one of its versions: `…/api/pairs/SLUG` (or the web app's `…/pairs/SLUG`)
 * is the current version; `…/versions/N` a given one.
 */
export function parseModelUrl(spec: string): { server: string; slug: string; version: number | 'current' } {
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    throw new CliError(`${JSON.stringify(spec)} is not a URL`);
  }
  const m = /^\/(?:api\/)?pairs\/([a-z0-9-]+)(?:\/versions\/(current|\d+))?\/?$/.exec(url.pathname);
  if (!m) throw new CliError(`${spec}: expected a pair URL like ${url.origin}/api/pairs/SLUG or …/api/pairs/SLUG/versions/N`);
  return { server: url.origin, slug: m[1], version: m[2] === undefined || m[2] === 'current' ? 'current' : Number(m[2]) };
}

/** A pair's version on a server as a CheckpointSource: the manifest now, each shard when asked, checked against its hash. */
export async function openRemoteModel(spec: string): Promise<CheckpointSource & { number: number }> {
  const { server, slug, version } = parseModelUrl(spec);
  const client = new ApiClient(server);
  const path = version === 'current' ? api.current(slug) : api.version(slug, version);
  const v = await client.json<{ number: number; manifest: unknown }>('GET', path);
  let manifest: CheckpointManifest;
  try {
    manifest = validateManifest(v.manifest);
  } catch (e) {
    throw new CliError(`${spec}: ${(e as Error).message}`);
  }
  const sizes = new Map(allShards(manifest).map((s) => [s.hash, s.size]));
  return {
    where: spec,
    number: v.number,
    manifest,
    async fetchShard(hash: string) {
      const size = sizes.get(hash);
      if (!isShardName(hash) || size === undefined) throw new CliError(`${spec}: shard ${hash} is not in the manifest`);
      const bytes = new Uint8Array(await (await client.request('GET', api.shard(hash))).arrayBuffer());
      await verifyShard(hash, size, bytes, spec);
      return bytes;
    },
  };
}

export async function createToken(client: ApiClient, name: string): Promise<Token> {
  return client.json<Token>('POST', api.tokens(), { name });
}

/** The pair, or null when the server has none by that slug. */
export async function getPair(client: ApiClient, slug: string): Promise<Pair | null> {
  const res = await client.request('GET', api.pair(slug), { allow: [404] });
  return res.status === 404 ? null : ((await res.json()) as Pair);
}

export async function createPair(client: ApiClient, pair: PairCreate): Promise<Pair> {
  return client.json<Pair>('POST', api.pairs(), pair);
}

export interface PushProgress {
  /** Called once with the shard count to upload, then once per uploaded shard. */
  start(toUpload: number, alreadyThere: number): void;
  uploaded(hash: string, bytes: number): void;
}

/**
 * Publishes a checkpoint as the pair's next version with the shared protocol
 * (shared/api/publish.ts, as the web app does). Resumable: only the shards the server lacks are
 * sent, and the commit comes after all are up.
 */
export async function pushCheckpoint(
  client: ApiClient,
  slug: string,
  source: CheckpointSource,
  progress?: PushProgress,
  concurrency = 4,
): Promise<Published> {
  if (!client.token) throw new CliError('publishing needs a token');
  try {
    return await publishVersion({
      fetch,
      server: client.server,
      token: client.token,
      slug,
      manifest: source.manifest,
      where: source.where,
      shard: (hash) => source.fetchShard(hash),
      onDeclared: (todo, there) => progress?.start(todo.length, there),
      onUploaded: (hash, bytes) => progress?.uploaded(hash, bytes),
      concurrency,
    });
  } catch (e) {
    throw e instanceof PublishError ? new CliError(e.message) : e;
  }
}
