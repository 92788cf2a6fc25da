/**
 * Publishing a checkpoint as a new version of a pair from the browser, with the same protocol
 * code as `stripes push` (shared/api/publish.ts): declare the manifest, upload the shards the
 * server does not have yet, then commit. A version becomes current only at the commit, so an
 * interrupted upload leaves the pair as it was.
 */
import { publishVersion, PublishError } from '../../../shared/api/publish.ts';
import type { EncodedCheckpoint } from '../../../shared/weights/checkpoint.ts';
import { createToken } from './api.ts';

export async function publishCheckpoint(
  slug: string,
  ckpt: EncodedCheckpoint,
  token: string,
  onProgress: (sentBytes: number, totalBytes: number) => void,
): Promise<number> {
  let total = 0;
  let sent = 0;
  try {
    const published = await publishVersion({
      fetch: (input, init) => fetch(input, init),
      server: '',
      token,
      slug,
      manifest: ckpt.manifest,
      where: 'this checkpoint',
      shard: async (hash) => {
        const bytes = ckpt.shards.get(hash);
        if (!bytes) throw new Error(`the server asks for shard ${hash}, which this checkpoint does not hold`);
        return bytes;
      },
      onDeclared: (todo) => {
        total = todo.reduce((a, s) => a + s.size, 0);
        onProgress(0, total);
      },
      onUploaded: (_hash, n) => {
        sent += n;
        onProgress(sent, total);
      },
      concurrency: 2,
    });
    return published.number;
  } catch (e) {
    // The page says what the server said, without the request line.
    throw e instanceof PublishError ? new Error(e.reason) : e;
  }
}

const TOKEN_KEY = 'stripes.token';
const TOKEN_ID_KEY = 'stripes.tokenId';

/**
 * The API token this browser writes with: issued once by the server and kept here, so the
 * pairs created from this browser stay editable from it.
 */
export async function browserToken(): Promise<string> {
  const kept = localStorage.getItem(TOKEN_KEY);
  if (kept) return kept;
  const t = await createToken('web');
  localStorage.setItem(TOKEN_KEY, t.token);
  localStorage.setItem(TOKEN_ID_KEY, t.id);
  return t.token;
}

/** Whether this browser's token owns the pair (a pair's `owner` is its owner's token id). */
export function ownsPair(pair: { owner: string }): boolean {
  return localStorage.getItem(TOKEN_KEY) !== null && localStorage.getItem(TOKEN_ID_KEY) === pair.owner;
}
