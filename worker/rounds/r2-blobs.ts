/** The round's shard store on R2, through worker/storage.ts (the only module that touches the bucket). */
import { Storage } from '../storage.ts';
import type { Blobs } from './blobs.ts';

export function storageBlobs(bucket: R2Bucket): Blobs {
  const storage = new Storage(bucket);
  return {
    async put(hash, bytes) {
      // R2 takes an ArrayBuffer; copy only when the view does not cover its whole buffer.
      const buf = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer;
      await storage.putShard(hash, buf as ArrayBuffer);
    },
    async get(hash, range) {
      const obj = await storage.getShard(hash, range);
      if (!obj) throw new Error(`shard ${hash} is not stored`);
      return new Uint8Array(await new Response(obj.body).arrayBuffer());
    },
  };
}

/** One round's delta shards (scratch, deleted when the round ends). */
export function roundBlobs(bucket: R2Bucket, slug: string, round: number): Blobs {
  const storage = new Storage(bucket);
  return {
    async put(hash, bytes) {
      const buf = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer;
      await storage.putRoundShard(slug, round, hash, buf as ArrayBuffer);
    },
    async get(hash, range) {
      const obj = await storage.getRoundShard(slug, round, hash, range);
      if (!obj) throw new Error(`delta shard ${hash} of round ${round} is not stored`);
      return new Uint8Array(await new Response(obj.body).arrayBuffer());
    },
  };
}
