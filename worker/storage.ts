/**
 * The only module that touches the R2 bucket. Shards are content-addressed (`shards/<sha256>`),
 * written once and never changed; sample images live under `samples/<slug>/<domain>/<index>`.
 */
// Imported rather than global so that Node-side code (the rounds' tests) can type-check this module too.
import type { R2Bucket } from '@cloudflare/workers-types';
import type { SampleDomain } from '../shared/api/pairs.ts';

export type ByteRange = { offset: number; length: number };

export interface ObjectBody {
  /** The runtime's own stream type (R2's declared one differs only in name from the DOM's). */
  body: ReadableStream;
  /** Size of the whole object, whatever range was read. */
  size: number;
  contentType?: string;
}

const shardKey = (hash: string) => `shards/${hash}`;
const sampleKey = (slug: string, domain: SampleDomain, index: number) => `samples/${slug}/${domain}/${index}`;
const roundPrefix = (slug: string, round: number) => `rounds/${slug}/${round}/`;
const validationKey = (slug: string, domain: SampleDomain) => `validation/${slug}/${domain}`;

export class Storage {
  constructor(private readonly bucket: R2Bucket) {}

  /** The stored size of a shard, or null when it is not stored. */
  async shardSize(hash: string): Promise<number | null> {
    const head = await this.bucket.head(shardKey(hash));
    return head ? head.size : null;
  }

  /** Streams a shard (or one byte range of it) straight from R2. */
  async getShard(hash: string, range?: ByteRange): Promise<ObjectBody | null> {
    const obj = await this.bucket.get(shardKey(hash), range ? { range } : undefined);
    if (!obj) return null;
    return { body: obj.body as unknown as ReadableStream, size: obj.size };
  }

  /**
   * Stores bytes whose SHA-256 the caller has checked. R2 checks it again (`sha256`), so a
   * corrupted transfer between here and R2 cannot land under the wrong name either.
   */
  async putShard(hash: string, bytes: ArrayBuffer): Promise<void> {
    await this.bucket.put(shardKey(hash), bytes, {
      sha256: hash,
      httpMetadata: { contentType: 'application/octet-stream' },
    });
  }

  async putSample(slug: string, domain: SampleDomain, index: number, bytes: ArrayBuffer, contentType: string) {
    await this.bucket.put(sampleKey(slug, domain, index), bytes, { httpMetadata: { contentType } });
  }

  async getSample(slug: string, domain: SampleDomain, index: number): Promise<ObjectBody | null> {
    const obj = await this.bucket.get(sampleKey(slug, domain, index));
    if (!obj) return null;
    return { body: obj.body as unknown as ReadableStream, size: obj.size, contentType: obj.httpMetadata?.contentType };
  }

  /**
   * Contributors' delta shards: scratch for one round of one pair (worker/rounds/), kept apart
   * from version shards so the whole round can be deleted once it is aggregated or abandoned.
   * Each is stored under its lease's slot (`<lease>/<network>/<index>`), so a re-upload replaces
   * the slot and a lease never holds more than one delta's bytes.
   */
  async putRoundShard(slug: string, round: number, slot: string, bytes: ArrayBuffer, hash: string): Promise<void> {
    await this.bucket.put(roundPrefix(slug, round) + slot, bytes, { sha256: hash });
  }

  async getRoundShard(slug: string, round: number, slot: string, range?: ByteRange): Promise<ObjectBody | null> {
    const obj = await this.bucket.get(roundPrefix(slug, round) + slot, range ? { range } : undefined);
    return obj ? { body: obj.body as unknown as ReadableStream, size: obj.size } : null;
  }

  /** A pair's validation images of one domain (shared/gate/validation-set.ts format), or null. */
  async getValidation(slug: string, domain: SampleDomain): Promise<Uint8Array | null> {
    const obj = await this.bucket.get(validationKey(slug, domain));
    return obj ? new Uint8Array(await obj.arrayBuffer()) : null;
  }

  async putValidation(slug: string, domain: SampleDomain, bytes: ArrayBuffer, count: number): Promise<void> {
    await this.bucket.put(validationKey(slug, domain), bytes, {
      httpMetadata: { contentType: 'application/octet-stream' },
      customMetadata: { count: String(count) },
    });
  }

  /** How many images each domain's validation set holds (0 when none), from the objects' metadata. */
  async validationCounts(slug: string): Promise<{ A: number; B: number }> {
    const count = async (d: SampleDomain) => Number((await this.bucket.head(validationKey(slug, d)))?.customMetadata?.count ?? 0);
    const [A, B] = await Promise.all([count('A'), count('B')]);
    return { A, B };
  }

  /** Deletes every delta shard of a round; returns how many there were. */
  async deleteRoundShards(slug: string, round: number): Promise<number> {
    let n = 0;
    let cursor: string | undefined;
    do {
      const page = await this.bucket.list({ prefix: roundPrefix(slug, round), cursor });
      if (page.objects.length) await this.bucket.delete(page.objects.map((o) => o.key));
      n += page.objects.length;
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    return n;
  }
}
