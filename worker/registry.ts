/**
 * The pair registry in D1: pairs, their versions (pending → committed) and the shards each
 * version names. Every multi-row change is one `batch`, which D1 runs as a transaction, so a
 * failed request leaves no half-written rows.
 */
import type { Pair, PairCreate, PairUpdate, SampleDomain } from '../shared/api/pairs.ts';
import { api } from '../shared/api/paths.ts';
import { allShards } from '../shared/weights/manifest.ts';
import type { CheckpointManifest } from '../shared/weights/format.ts';
import type { GateRecord, VersionSource, VersionSummary } from '../shared/api/versions.ts';

interface PairRow {
  slug: string;
  title: string;
  domain_a: string;
  domain_b: string;
  description: string;
  licence: string;
  owner: string;
  forked_from: string | null;
  forked_version: number | null;
  current_version: number | null;
  created_at: string;
  updated_at: string;
}

interface VersionRow {
  pair_slug: string;
  number: number;
  state: 'pending' | 'committed';
  manifest: string;
  created_at: string;
  committed_at: string | null;
  source: VersionSource;
  round: number | null;
  gate: string | null;
}

export interface StoredVersion {
  slug: string;
  number: number;
  state: 'pending' | 'committed';
  manifest: CheckpointManifest;
  createdAt: string;
  committedAt: string | null;
  source: VersionSource;
  round: number | null;
  gate: GateRecord | null;
}

const now = () => new Date().toISOString();

function toVersion(r: VersionRow): StoredVersion {
  return {
    slug: r.pair_slug,
    number: r.number,
    state: r.state,
    manifest: JSON.parse(r.manifest) as CheckpointManifest,
    createdAt: r.created_at,
    committedAt: r.committed_at,
    source: r.source ?? 'owner',
    round: r.round ?? null,
    gate: r.gate ? (JSON.parse(r.gate) as GateRecord) : null,
  };
}

/**
 * The gallery's order: pairs that translate first, then those with sample pictures, then bare
 * ones; newest first within each. A cursor is the last row's place in that order.
 */
type ListKey = [rank: number, createdAt: string, slug: string];

function encodeCursor(key: ListKey): string {
  return btoa(JSON.stringify(key)).replace(/=+$/, '');
}

function decodeCursor(cursor: string): ListKey | null {
  try {
    const v = JSON.parse(atob(cursor));
    const ok = Array.isArray(v) && v.length === 3 && Number.isInteger(v[0]) && v[0] >= 0 && v[0] <= 3 && typeof v[1] === 'string' && typeof v[2] === 'string';
    return ok ? (v as ListKey) : null;
  } catch {
    return null;
  }
}

export class Registry {
  constructor(private readonly db: D1Database) {}

  private async toPair(r: PairRow): Promise<Pair> {
    const { results } = await this.db
      .prepare('SELECT domain, idx, version, updated_at FROM samples WHERE pair_slug = ? ORDER BY domain, idx')
      .bind(r.slug)
      .all<{ domain: SampleDomain; idx: number; version: number | null; updated_at: string }>();
    const samples: Pair['samples'] = { A: [], B: [] };
    for (const s of results) samples[s.domain].push(api.sample(r.slug, s.domain, s.idx));
    const newest = [...results].sort((a, b) => (a.updated_at < b.updated_at ? 1 : -1))[0];
    return {
      slug: r.slug,
      title: r.title,
      domainA: r.domain_a,
      domainB: r.domain_b,
      description: r.description,
      licence: r.licence,
      owner: r.owner,
      forkedFrom: r.forked_from ? { slug: r.forked_from, version: r.forked_version } : null,
      currentVersion: r.current_version,
      samples,
      samplesVersion: newest?.version ?? null,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    };
  }

  async addToken(id: string, name: string): Promise<void> {
    await this.db.prepare('INSERT INTO tokens (id, name, created_at) VALUES (?, ?, ?)').bind(id, name, now()).run();
  }

  private async pairRow(slug: string): Promise<PairRow | null> {
    return this.db.prepare('SELECT * FROM pairs WHERE slug = ?').bind(slug).first<PairRow>();
  }

  async getPair(slug: string): Promise<Pair | null> {
    const row = await this.pairRow(slug);
    return row ? this.toPair(row) : null;
  }

  /** The owner's token id, or null when the pair does not exist. */
  async ownerOf(slug: string): Promise<string | null> {
    const row = await this.db.prepare('SELECT owner FROM pairs WHERE slug = ?').bind(slug).first<{ owner: string }>();
    return row?.owner ?? null;
  }

  /**
   * Pairs with a current version first, then those with sample pictures, then the rest, newest
   * first within each (a flood of fresh, empty pairs never pushes a working pair off the first
   * page); `q` matches slug, title, domain names and description, case-insensitively.
   */
  async listPairs(q: string | undefined, limit: number, cursor: string | undefined): Promise<{ pairs: Pair[]; next: string | null } | 'bad_cursor'> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q) {
      const like = `%${q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
      where.push(
        "(slug LIKE ?1 ESCAPE '\\' OR title LIKE ?1 ESCAPE '\\' OR domain_a LIKE ?1 ESCAPE '\\' OR domain_b LIKE ?1 ESCAPE '\\' OR description LIKE ?1 ESCAPE '\\')",
      );
      args.push(like);
    }
    if (cursor) {
      const c = decodeCursor(cursor);
      if (!c) return 'bad_cursor';
      const [r, t, s] = [args.length + 1, args.length + 2, args.length + 3];
      where.push(`(rank < ?${r} OR (rank = ?${r} AND (created_at < ?${t} OR (created_at = ?${t} AND slug < ?${s}))))`);
      args.push(...c);
    }
    const ranked =
      'SELECT p.*, (CASE WHEN p.current_version IS NULL THEN 0 ELSE 2 END + ' +
      'EXISTS (SELECT 1 FROM samples s WHERE s.pair_slug = p.slug)) AS rank FROM pairs p';
    const sql =
      `SELECT * FROM (${ranked}) ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ` +
      `ORDER BY rank DESC, created_at DESC, slug DESC LIMIT ${limit + 1}`;
    const { results } = await this.db.prepare(sql).bind(...args).all<PairRow & { rank: number }>();
    const page = results.slice(0, limit);
    const pairs = await Promise.all(page.map((r) => this.toPair(r)));
    const last = page[page.length - 1];
    return { pairs, next: results.length > limit && last ? encodeCursor([last.rank, last.created_at, last.slug]) : null };
  }

  /** False when the slug is taken. */
  async createPair(p: Required<PairCreate>, owner: string): Promise<boolean> {
    const t = now();
    const res = await this.db
      .prepare(
        'INSERT INTO pairs (slug, title, domain_a, domain_b, description, licence, owner, created_at, updated_at) ' +
          'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (slug) DO NOTHING',
      )
      .bind(p.slug, p.title, p.domainA, p.domainB, p.description, p.licence, owner, t, t)
      .run();
    return res.meta.changes === 1;
  }

  async updatePair(slug: string, u: PairUpdate): Promise<void> {
    const cols: Record<keyof PairUpdate, string> = {
      title: 'title',
      domainA: 'domain_a',
      domainB: 'domain_b',
      description: 'description',
      licence: 'licence',
    };
    const keys = (Object.keys(u) as Array<keyof PairUpdate>).filter((k) => u[k] !== undefined);
    const sets = keys.map((k, i) => `${cols[k]} = ?${i + 1}`);
    await this.db
      .prepare(`UPDATE pairs SET ${sets.join(', ')}, updated_at = ?${keys.length + 1} WHERE slug = ?${keys.length + 2}`)
      .bind(...keys.map((k) => u[k]), now(), slug)
      .run();
  }

  /**
   * A fork is a new pair that points at its source; its version 1 is the source's current
   * manifest (the same shard names, so no weight bytes are copied). False when the slug is taken.
   */
  async forkPair(src: Pair, slug: string, title: string | undefined, owner: string): Promise<boolean> {
    const t = now();
    const v = src.currentVersion;
    const stmts = [
      this.db
        .prepare(
          'INSERT INTO pairs (slug, title, domain_a, domain_b, description, licence, owner, forked_from, forked_version, current_version, created_at, updated_at) ' +
            'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .bind(slug, title ?? src.title, src.domainA, src.domainB, src.description, src.licence, owner, src.slug, v, v === null ? null : 1, t, t),
    ];
    if (v !== null) {
      stmts.push(
        this.db
          .prepare(
            "INSERT INTO versions (pair_slug, number, state, manifest, created_at, committed_at, source) SELECT ?, 1, 'committed', manifest, ?, ?, 'fork' FROM versions WHERE pair_slug = ? AND number = ?",
          )
          .bind(slug, t, t, src.slug, v),
        this.db
          .prepare('INSERT INTO version_shards (pair_slug, number, sha256, size) SELECT ?, 1, sha256, size FROM version_shards WHERE pair_slug = ? AND number = ?')
          .bind(slug, src.slug, v),
      );
    }
    try {
      await this.db.batch(stmts);
      return true;
    } catch (e) {
      // The batch is one transaction: a taken slug fails the first insert and writes nothing.
      if (/UNIQUE constraint failed/.test(String(e))) return false;
      throw e;
    }
  }

  async getVersion(slug: string, number: number): Promise<StoredVersion | null> {
    const row = await this.db
      .prepare('SELECT * FROM versions WHERE pair_slug = ? AND number = ?')
      .bind(slug, number)
      .first<VersionRow>();
    return row ? toVersion(row) : null;
  }

  /** The current version in one query (the manifest read is the hot path); null when the pair or its version is absent. */
  async currentVersion(slug: string): Promise<StoredVersion | null> {
    const row = await this.db
      .prepare('SELECT v.* FROM pairs p JOIN versions v ON v.pair_slug = p.slug AND v.number = p.current_version WHERE p.slug = ?')
      .bind(slug)
      .first<VersionRow>();
    return row ? toVersion(row) : null;
  }

  /** Committed versions, oldest first, with who made them and how their gate went (no manifests). */
  async committedVersions(slug: string): Promise<VersionSummary[]> {
    const { results } = await this.db
      .prepare(
        "SELECT v.number, v.committed_at, v.source, v.round, v.gate, p.current_version FROM versions v JOIN pairs p ON p.slug = v.pair_slug " +
          "WHERE v.pair_slug = ? AND v.state = 'committed' ORDER BY v.number",
      )
      .bind(slug)
      .all<{ number: number; committed_at: string; source: VersionSource; round: number | null; gate: string | null; current_version: number | null }>();
    return results.map((r) => ({
      number: r.number,
      committedAt: r.committed_at,
      source: r.source,
      round: r.round,
      gate: r.gate ? (JSON.parse(r.gate) as GateRecord) : null,
      current: r.current_version === r.number,
    }));
  }

  /**
   * Records a manifest as the pair's pending version. A pair has at most one pending version:
   * declaring the same manifest again returns it (so an interrupted push resumes), and a
   * different one replaces it under the same number.
   */
  async declareVersion(slug: string, manifest: CheckpointManifest): Promise<number> {
    const json = JSON.stringify(manifest);
    const pending = await this.db
      .prepare("SELECT number, manifest FROM versions WHERE pair_slug = ? AND state = 'pending'")
      .bind(slug)
      .first<{ number: number; manifest: string }>();
    if (pending?.manifest === json) return pending.number;
    let number: number;
    const stmts: D1PreparedStatement[] = [];
    if (pending) {
      number = pending.number;
      stmts.push(this.db.prepare('DELETE FROM version_shards WHERE pair_slug = ? AND number = ?').bind(slug, number));
      stmts.push(this.db.prepare('DELETE FROM versions WHERE pair_slug = ? AND number = ?').bind(slug, number));
    } else {
      const max = await this.db
        .prepare('SELECT MAX(number) AS n FROM versions WHERE pair_slug = ?')
        .bind(slug)
        .first<{ n: number | null }>();
      number = (max?.n ?? 0) + 1;
    }
    stmts.push(
      this.db
        .prepare("INSERT INTO versions (pair_slug, number, state, manifest, created_at) VALUES (?, ?, 'pending', ?, ?)")
        .bind(slug, number, json, now()),
    );
    for (const s of allShards(manifest)) {
      stmts.push(
        this.db.prepare('INSERT INTO version_shards (pair_slug, number, sha256, size) VALUES (?, ?, ?, ?)').bind(slug, number, s.hash, s.size),
      );
    }
    await this.db.batch(stmts);
    return number;
  }

  /** The shards a version names. */
  async versionShards(slug: string, number: number): Promise<Array<{ hash: string; size: number }>> {
    const { results } = await this.db
      .prepare('SELECT sha256, size FROM version_shards WHERE pair_slug = ? AND number = ? ORDER BY sha256')
      .bind(slug, number)
      .all<{ sha256: string; size: number }>();
    return results.map((r) => ({ hash: r.sha256, size: r.size }));
  }

  /** The declared size of a shard when a pending version of a pair this token owns names it. */
  async declaredShardSize(hash: string, owner: string): Promise<number | null> {
    const row = await this.db
      .prepare(
        "SELECT vs.size FROM version_shards vs JOIN versions v ON v.pair_slug = vs.pair_slug AND v.number = vs.number " +
          "JOIN pairs p ON p.slug = v.pair_slug WHERE vs.sha256 = ? AND v.state = 'pending' AND p.owner = ? LIMIT 1",
      )
      .bind(hash, owner)
      .first<{ size: number }>();
    return row?.size ?? null;
  }

  /**
   * Makes a pending version committed and current, in one transaction, but only while it is still
   * the exact manifest the caller checked (`manifest`, as stored): a re-declare that replaced it
   * in between makes this a no-op. False when it was no longer pending or no longer that manifest.
   */
  async commitVersion(slug: string, number: number, manifest: CheckpointManifest): Promise<boolean> {
    const t = now();
    const [upd] = await this.db.batch([
      this.db
        .prepare("UPDATE versions SET state = 'committed', committed_at = ? WHERE pair_slug = ? AND number = ? AND state = 'pending' AND manifest = ?")
        .bind(t, slug, number, JSON.stringify(manifest)),
      this.db
        .prepare(
          "UPDATE pairs SET current_version = ?, updated_at = ? WHERE slug = ? AND EXISTS " +
            "(SELECT 1 FROM versions WHERE pair_slug = ? AND number = ? AND state = 'committed' AND committed_at = ?)",
        )
        .bind(number, t, slug, slug, number, t),
    ]);
    return upd.meta.changes === 1;
  }

  /**
   * Stores a community round's version as committed but NOT current: it is a candidate until the
   * quality gate passes it. Its number is taken in the same statement that inserts it (MAX + 1),
   * so it can never collide with an owner's pending version (which keeps its own number) or with
   * another round's. Idempotent per round: a retried aggregation gets the version it already made.
   */
  async addRoundVersion(slug: string, round: number, manifest: CheckpointManifest, gate: GateRecord): Promise<number> {
    const existing = await this.db
      .prepare('SELECT number FROM versions WHERE pair_slug = ? AND round = ?')
      .bind(slug, round)
      .first<{ number: number }>();
    if (existing) return existing.number;
    const t = now();
    const json = JSON.stringify(manifest);
    const stmts = [
      this.db
        .prepare(
          "INSERT INTO versions (pair_slug, number, state, manifest, created_at, committed_at, source, round, gate) " +
            "SELECT ?1, COALESCE(MAX(number), 0) + 1, 'committed', ?2, ?3, ?3, 'round', ?4, ?5 FROM versions WHERE pair_slug = ?1",
        )
        .bind(slug, json, t, round, JSON.stringify(gate)),
      ...allShards(manifest).map((s) =>
        this.db
          .prepare(
            'INSERT OR IGNORE INTO version_shards (pair_slug, number, sha256, size) SELECT ?, number, ?, ? FROM versions WHERE pair_slug = ? AND round = ?',
          )
          .bind(slug, s.hash, s.size, slug, round),
      ),
    ];
    await this.db.batch(stmts);
    const row = await this.db.prepare('SELECT number FROM versions WHERE pair_slug = ? AND round = ?').bind(slug, round).first<{ number: number }>();
    return row!.number;
  }

  /** Records the gate's verdict (and metrics) on a round's version. */
  async setGate(slug: string, number: number, gate: GateRecord): Promise<void> {
    await this.db.prepare('UPDATE versions SET gate = ? WHERE pair_slug = ? AND number = ?').bind(JSON.stringify(gate), slug, number).run();
  }

  /**
   * Moves `current` from `from` to `to` only if it is still `from` (compare-and-set): a gate that
   * passed a candidate built on version 3 must not undo an owner's push of version 4 meanwhile.
   */
  async advanceCurrent(slug: string, from: number, to: number): Promise<boolean> {
    const res = await this.db
      .prepare("UPDATE pairs SET current_version = ?, updated_at = ? WHERE slug = ? AND current_version = ? AND EXISTS (SELECT 1 FROM versions WHERE pair_slug = ? AND number = ? AND state = 'committed')")
      .bind(to, now(), slug, from, slug, to)
      .run();
    return res.meta.changes === 1;
  }

  /**
   * The owner's rollback (or roll forward): `current` becomes an earlier committed version. No
   * bytes are copied, the version is simply pointed at again. Rejected or still-unjudged round
   * versions are refused: the gate said no (or has not spoken).
   */
  async setCurrent(slug: string, number: number): Promise<'ok' | 'no_version' | 'not_eligible'> {
    const v = await this.getVersion(slug, number);
    if (!v || v.state !== 'committed') return 'no_version';
    if (v.gate && v.gate.status !== 'passed') return 'not_eligible';
    await this.db.prepare('UPDATE pairs SET current_version = ?, updated_at = ? WHERE slug = ?').bind(number, now(), slug).run();
    return 'ok';
  }

  async sampleCount(slug: string, domain: SampleDomain): Promise<number> {
    const row = await this.db
      .prepare('SELECT COUNT(*) AS n FROM samples WHERE pair_slug = ? AND domain = ?')
      .bind(slug, domain)
      .first<{ n: number }>();
    return row?.n ?? 0;
  }

  async hasSample(slug: string, domain: SampleDomain, index: number): Promise<boolean> {
    const row = await this.db
      .prepare('SELECT 1 AS x FROM samples WHERE pair_slug = ? AND domain = ? AND idx = ?')
      .bind(slug, domain, index)
      .first();
    return row !== null;
  }

  async recordSample(slug: string, domain: SampleDomain, index: number, contentType: string, size: number): Promise<void> {
    const t = now();
    await this.db.batch([
      this.db
        .prepare(
          'INSERT INTO samples (pair_slug, domain, idx, content_type, size, updated_at, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, (SELECT current_version FROM pairs WHERE slug = ?1)) ' +
            'ON CONFLICT (pair_slug, domain, idx) DO UPDATE SET content_type = excluded.content_type, size = excluded.size, updated_at = excluded.updated_at, version = excluded.version',
        )
        .bind(slug, domain, index, contentType, size, t),
      this.db.prepare('UPDATE pairs SET updated_at = ? WHERE slug = ?').bind(t, slug),
    ]);
  }
}
