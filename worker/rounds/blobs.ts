/**
 * The round's view of R2, through worker/storage.ts (the only module that touches the bucket):
 * delta shards, new version shards and the outer momentum are all content-addressed shards,
 * read whole or by byte range while aggregating.
 */
import { Storage, type ByteRange } from '../storage.ts';

export interface Blobs {
  put(hash: string, bytes: Uint8Array): Promise<void>;
  /** The shard's bytes (or a range of them); throws naming the shard when it is not stored. */
  get(hash: string, range?: ByteRange): Promise<Uint8Array>;
}

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

/** An in-memory store for tests and the benchmark, counting what is read. */
export function memoryBlobs(): Blobs & { map: Map<string, Uint8Array>; bytesRead: number } {
  const map = new Map<string, Uint8Array>();
  const self = {
    map,
    bytesRead: 0,
    async put(hash: string, bytes: Uint8Array) {
      map.set(hash, bytes.slice());
    },
    async get(hash: string, range?: ByteRange) {
      const b = map.get(hash);
      if (!b) throw new Error(`shard ${hash} is not stored`);
      const out = range ? b.slice(range.offset, range.offset + range.length) : b.slice();
      self.bytesRead += out.byteLength;
      return out;
    },
  };
  return self;
}
