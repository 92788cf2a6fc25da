/**
 * A checkpoint as a folder: `manifest.json`, `shards/<sha256>`, and any extra files a writer
 * keeps beside them (training puts its optimizer state there).
 *
 * Writes are all-or-nothing: everything goes into a temporary folder beside the target, which
 * is then renamed into place, so a crash or a bad input never leaves a half-written checkpoint.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { EncodedCheckpoint } from '../shared/weights/checkpoint.ts';
import type { CheckpointManifest } from '../shared/weights/format.ts';
import { allShards, isShardName, validateManifest } from '../shared/weights/manifest.ts';
import { CliError } from './errors.ts';

export const MANIFEST_FILE = 'manifest.json';
export const SHARDS_DIR = 'shards';

/** Where a model's manifest and shards come from: a folder now, a URL later. */
export interface CheckpointSource {
  /** For messages: the folder or URL. */
  where: string;
  manifest: CheckpointManifest;
  fetchShard(hash: string): Promise<Uint8Array>;
}

export interface WriteOptions {
  /** Files to keep beside the manifest, by relative path (e.g. "optimizer/G.safetensors"). */
  extraFiles?: Record<string, Uint8Array | string>;
  /** Replace `dir` if it already holds a Stripes checkpoint. Anything else is never replaced. */
  replace?: boolean;
}

const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

function checkExtraName(name: string): void {
  const parts = name.split('/');
  if (!parts.every((p) => SAFE_NAME.test(p)) || name === MANIFEST_FILE || parts[0] === SHARDS_DIR)
    throw new CliError(
      `extra file name ${JSON.stringify(name)} must be a relative path of plain names, not ${MANIFEST_FILE} or under ${SHARDS_DIR}/`,
    );
}

async function exists(p: string): Promise<'dir' | 'file' | null> {
  try {
    return (await stat(p)).isDirectory() ? 'dir' : 'file';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

async function isCheckpointDir(dir: string): Promise<boolean> {
  try {
    validateManifest(JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')));
    return true;
  } catch {
    return false;
  }
}

/** Writes a checkpoint folder atomically; refuses to touch an existing folder unless told (see WriteOptions.replace). */
export async function writeCheckpointDir(dir: string, ckpt: EncodedCheckpoint, opts: WriteOptions = {}): Promise<void> {
  const target = resolve(dir);
  // Check everything before the first write, so a refusal leaves no trace.
  const manifest = validateManifest(JSON.parse(JSON.stringify(ckpt.manifest)));
  for (const { hash, size } of allShards(manifest)) {
    const bytes = ckpt.shards.get(hash);
    if (!bytes) throw new CliError(`cannot write ${dir}: shard ${hash} named by the manifest was not given`);
    if (bytes.byteLength !== size) throw new CliError(`cannot write ${dir}: shard ${hash} has ${bytes.byteLength} bytes, the manifest says ${size}`);
  }
  const extra = Object.entries(opts.extraFiles ?? {});
  for (const [name] of extra) checkExtraName(name);

  const kind = await exists(target);
  let replacing = false;
  if (kind === 'file') throw new CliError(`${dir} exists and is a file, not a folder`);
  if (kind === 'dir' && (await readdir(target)).length > 0) {
    if (!(await isCheckpointDir(target)))
      throw new CliError(`${dir} exists, is not empty and is not a Stripes checkpoint: refusing to write into it`);
    if (!opts.replace) throw new CliError(`${dir} already holds a checkpoint (pass --force to replace it)`);
    replacing = true;
  }

  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = join(parent, `.${basename(target)}.tmp-${tag}`);
  try {
    await mkdir(join(tmp, SHARDS_DIR), { recursive: true });
    for (const { hash } of allShards(manifest)) await writeFile(join(tmp, SHARDS_DIR, hash), ckpt.shards.get(hash)!);
    for (const [name, data] of extra) {
      await mkdir(dirname(join(tmp, name)), { recursive: true });
      await writeFile(join(tmp, name), data);
    }
    await writeFile(join(tmp, MANIFEST_FILE), JSON.stringify(ckpt.manifest) + '\n');
    if (replacing) {
      // Move the old one aside first: after a crash between the renames it is still whole, beside.
      const old = join(parent, `.${basename(target)}.old-${tag}`);
      await rename(target, old);
      await rename(tmp, target);
      await rm(old, { recursive: true, force: true });
    } else {
      // POSIX rename replaces an empty folder, so an empty target needs no special case.
      await rename(tmp, target);
    }
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Opens a checkpoint folder: its validated manifest and a fetchShard that reads `shards/`. */
export async function readCheckpointDir(dir: string): Promise<CheckpointSource & { readExtra(name: string): Promise<Uint8Array> }> {
  const file = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR')
      throw new CliError(`${dir} is not a Stripes checkpoint (no ${MANIFEST_FILE})`);
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`);
  }
  let manifest: CheckpointManifest;
  try {
    manifest = validateManifest(JSON.parse(text));
  } catch (e) {
    const msg = e instanceof SyntaxError ? `not JSON (${e.message})` : (e as Error).message;
    throw new CliError(`${file}: ${msg}`);
  }
  return {
    where: dir,
    manifest,
    async fetchShard(hash: string) {
      // The name comes from a file on disk; never let it walk out of shards/.
      if (!isShardName(hash)) throw new CliError(`${dir}: ${JSON.stringify(hash)} is not a shard name`);
      try {
        return new Uint8Array(await readFile(join(dir, SHARDS_DIR, hash)));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new CliError(`${dir}: shard ${hash} is missing`);
        throw e;
      }
    },
    async readExtra(name: string) {
      checkExtraName(name);
      return new Uint8Array(await readFile(join(dir, name)));
    },
  };
}
