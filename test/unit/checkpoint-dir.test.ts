import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCheckpointDir, writeCheckpointDir } from '../../cli/checkpoint-dir.ts';
import { presetConfig } from '../../shared/model/config.ts';
import { decodeGroup, encodeCheckpoint } from '../../shared/weights/checkpoint.ts';
import { specsFor } from '../../shared/weights/manifest.ts';

const tmp = mkdtempSync(join(tmpdir(), 'stripes-ckdir-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const config = presetConfig('tiny');
const params = Object.fromEntries(
  specsFor('D_A', config).map((s, j) => [s.name, Float32Array.from({ length: s.shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i + j))]),
);

describe('checkpoint folders', () => {
  it('keeps extra files (optimizer state) beside the manifest and reads everything back', async () => {
    const ckpt = await encodeCheckpoint(config, { D_A: params });
    const dir = join(tmp, 'a');
    await writeCheckpointDir(dir, ckpt, { extraFiles: { 'optimizer/D_A.bin': new Uint8Array([1, 2, 3]), 'train.json': '{"step":7}' } });
    expect(readdirSync(dir).sort()).toEqual(['manifest.json', 'optimizer', 'shards', 'train.json']);
    const src = await readCheckpointDir(dir);
    expect(await decodeGroup(src.manifest, 'D_A', src.fetchShard)).toEqual(params);
    expect([...(await src.readExtra('optimizer/D_A.bin'))]).toEqual([1, 2, 3]);
    expect(readFileSync(join(dir, 'train.json'), 'utf8')).toBe('{"step":7}');
    expect(readdirSync(tmp)).toEqual(['a']);
  });

  it('rejects extra file names that could escape the folder or shadow the checkpoint, writing nothing', async () => {
    const ckpt = await encodeCheckpoint(config, { D_A: params });
    for (const bad of ['../x', '/etc/x', 'manifest.json', 'shards/abc', 'a//b', '.hidden']) {
      await expect(writeCheckpointDir(join(tmp, 'b'), ckpt, { extraFiles: { [bad]: 'x' } })).rejects.toThrow('must be a relative path of plain names');
    }
    expect(existsSync(join(tmp, 'b'))).toBe(false);
  });

  it('refuses a manifest whose shards were not all given', async () => {
    const ckpt = await encodeCheckpoint(config, { D_A: params });
    const [first] = ckpt.shards.keys();
    ckpt.shards.delete(first);
    await expect(writeCheckpointDir(join(tmp, 'c'), ckpt)).rejects.toThrow(`shard ${first} named by the manifest was not given`);
    expect(existsSync(join(tmp, 'c'))).toBe(false);
  });

  it('never serves a shard name that is not a SHA-256 (no path walking)', async () => {
    const src = await readCheckpointDir(join(tmp, 'a'));
    await expect(src.fetchShard('../manifest.json')).rejects.toThrow('is not a shard name');
  });
});
