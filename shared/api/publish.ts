/**
 * Publishing a checkpoint as a pair's next version, the one implementation `stripes push` and the
 * web app share: declare the manifest, upload only the shards the server lacks (each checked
 * against its hash first, a dropped connection or a 5xx retried: uploads are idempotent), then
 * commit. A version becomes current only at the commit, so an interrupted publish leaves the pair
 * as it was, and running it again resumes. The caller passes its fetch (the browser's, Node's).
 */
import type { CheckpointManifest } from '../weights/format.ts';
import { verifyShard } from '../weights/checkpoint.ts';
import { api } from './paths.ts';
import type { VersionDeclared } from './versions.ts';

export interface PublishOptions {
  fetch: typeof fetch;
  /** The server's origin, e.g. http://127.0.0.1:8787; '' for the page's own origin. */
  server: string;
  token: string;
  slug: string;
  manifest: CheckpointManifest;
  /** Where the shards' bytes come from (a folder, memory, another server). */
  where: string;
  shard(hash: string): Promise<Uint8Array>;
  /** Called once, after the declaration, with what is to be uploaded and how many shards the server already holds. */
  onDeclared?(toUpload: Array<{ hash: string; size: number }>, alreadyThere: number): void;
  /** Called after each uploaded shard. */
  onUploaded?(hash: string, bytes: number): void;
  /** Shards uploaded at once. Default 4. */
  concurrency?: number;
  /** Tries per shard when the connection drops or the server answers 5xx. Default 3. */
  attempts?: number;
}

export interface Published {
  number: number;
  uploaded: number;
  skipped: number;
}

/** A refused or failed request: `message` names the request, `reason` is what the server (or network) said. */
export class PublishError extends Error {
  override name = 'PublishError';
  constructor(
    message: string,
    readonly reason: string,
    /** HTTP status; 0 when the server could not be reached. */
    readonly status: number,
  ) {
    super(message);
  }
}

async function send(o: PublishOptions, method: string, path: string, body?: { json: unknown } | { bytes: Uint8Array }): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${o.token}` };
  let payload: BodyInit | undefined;
  if (body && 'json' in body) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body.json);
  } else if (body) {
    headers['content-type'] = 'application/octet-stream';
    payload = body.bytes as Uint8Array<ArrayBuffer>;
  }
  let res: Response;
  try {
    res = await o.fetch(o.server + path, { method, headers, body: payload });
  } catch (e) {
    const cause = (e as Error).cause ?? (e as Error).message;
    throw new PublishError(`cannot reach ${o.server || 'the server'} (${cause})`, 'the server could not be reached', 0);
  }
  if (res.ok) return res;
  let reason = `${res.status} ${res.statusText}`.trim();
  try {
    const err = (await res.json()) as { error?: { message?: string } };
    if (err.error?.message) reason = err.error.message;
  } catch {
    // not the API's JSON error (a proxy's page): the status line says enough
  }
  throw new PublishError(`${method} ${o.server}${path}: ${reason}`, reason, res.status);
}

export async function publishVersion(o: PublishOptions): Promise<Published> {
  const declared = (await (await send(o, 'POST', api.versions(o.slug), { json: { manifest: o.manifest } })).json()) as VersionDeclared;
  const todo = declared.shards.filter((s) => !s.present);
  const skipped = declared.shards.length - todo.length;
  o.onDeclared?.(todo.map((s) => ({ hash: s.hash, size: s.size })), skipped);
  const attempts = o.attempts ?? 3;
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      const s = todo[next++];
      const bytes = await o.shard(s.hash);
      await verifyShard(s.hash, s.size, bytes, o.where);
      for (let attempt = 1; ; attempt++) {
        try {
          await send(o, 'PUT', api.shard(s.hash), { bytes });
          break;
        } catch (e) {
          const status = e instanceof PublishError ? e.status : -1;
          if (attempt >= attempts || !(status === 0 || status >= 500)) throw e;
        }
      }
      o.onUploaded?.(s.hash, bytes.byteLength);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 4, todo.length) }, worker));
  await send(o, 'POST', api.commit(o.slug, declared.number), { json: {} });
  return { number: declared.number, uploaded: todo.length, skipped };
}
