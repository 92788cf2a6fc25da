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

/** A delta shard's place in a round: one per lease, network and index. */
export const slotName = (lease: string, net: string, index: number) => `${lease}/${net}/${index}`;

/**
 * One round's delta shards (scratch, deleted when the round ends), read by slot name: the
 * aggregation names a contribution's shards by slot, so what it reads is what the lease's
 * last accepted upload stored there.
 */
export function roundBlobs(bucket: R2Bucket, slug: string, round: number): Blobs & { putSlot(slot: string, bytes: Uint8Array, hash: string): Promise<void> } {
  const storage = new Storage(bucket);
  const buffer = (bytes: Uint8Array) => (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer) as ArrayBuffer;
  return {
    async put() {
      throw new Error('round deltas are written by slot (putSlot)');
    },
    async putSlot(slot, bytes, hash) {
      await storage.putRoundShard(slug, round, slot, buffer(bytes), hash);
    },
    async get(slot, range) {
      const obj = await storage.getRoundShard(slug, round, slot, range);
      if (!obj) throw new Error(`delta shard ${slot} of round ${round} is not stored`);
      return new Uint8Array(await new Response(obj.body).arrayBuffer());
    },
  };
}
