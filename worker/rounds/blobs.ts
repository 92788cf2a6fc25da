/**
 * What the round needs of a shard store: delta shards, new version shards and the outer
 * momentum are all content-addressed shards, read whole or by byte range while aggregating.
 * r2-blobs.ts backs it with R2 (through worker/storage.ts); tests and the benchmark use memory.
 */
type ByteRange = { offset: number; length: number };

export interface Blobs {
  put(hash: string, bytes: Uint8Array): Promise<void>;
  /** The shard's bytes (or a range of them); throws naming the shard when it is not stored. */
  get(hash: string, range?: ByteRange): Promise<Uint8Array>;
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
