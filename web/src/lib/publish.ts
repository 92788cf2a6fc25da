/**
 * Publishing a checkpoint as a new version of a pair, as `stripes push` does: declare the
 * manifest, upload the shards the server does not have yet, then commit. A version becomes
 * current only at the commit, so an interrupted upload leaves the pair as it was.
 */
import type { EncodedCheckpoint } from '../../../shared/weights/checkpoint.ts';
import { commitVersion, createToken, declareVersion, putShard } from './api.ts';

export async function publishCheckpoint(
  slug: string,
  ckpt: EncodedCheckpoint,
  token: string,
  onProgress: (sentBytes: number, totalBytes: number) => void,
): Promise<number> {
  const declared = await declareVersion(slug, ckpt.manifest, token);
  const todo = declared.shards.filter((s) => !s.present);
  const total = todo.reduce((a, s) => a + s.size, 0);
  let sent = 0;
  onProgress(0, total);
  for (const s of todo) {
    const bytes = ckpt.shards.get(s.hash);
    if (!bytes) throw new Error(`the server asks for shard ${s.hash}, which this checkpoint does not hold`);
    await putShard(s.hash, bytes, token);
    sent += s.size;
    onProgress(sent, total);
  }
  const v = await commitVersion(slug, declared.number, token);
  return v.number;
}

const TOKEN_KEY = 'stripes.token';

/**
 * The API token this browser writes with: issued once by the server and kept here, so the
 * pairs created from this browser stay editable from it.
 */
export async function browserToken(): Promise<string> {
  const kept = localStorage.getItem(TOKEN_KEY);
  if (kept) return kept;
  const t = await createToken('web');
  localStorage.setItem(TOKEN_KEY, t.token);
  return t.token;
}
