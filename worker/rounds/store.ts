/**
 * The round's own storage (the Durable Object's SQLite), behind one small class so PairRound reads
 * as the protocol rather than as storage calls:
 *
 * - key-value: `pair` (the slug), `config`, `round` (state.ts), `lease:<id>` (one per lease of
 *   the open round: bounded by the round's `maxLeases`), `outer` (the outer momentum's index),
 *   `built` (networks built so far by a multi-alarm aggregation);
 * - SQL tables, each bounded in rows, so no client can grow the object past its limits:
 *   `history` (the round's events, HISTORY_ROWS), `rejections` (refused uploads and commits, kept
 *   apart and bounded on their own, REJECTION_ROWS), `contributions` (where each lease ended up,
 *   CONTRIBUTION_ROWS), `gate_parts` (the quality gate's per-image results while it runs).
 */
// Imported rather than global so that Node-side code (the gate's tests) can type-check this module too.
import type { DurableObjectStorage } from '@cloudflare/workers-types';
import { DEFAULT_ROUND_CONFIG, type ContributionStatus, type HistoryEntry, type Rejection, type RoundConfig } from '../../shared/rounds/protocol.ts';
import { FIRST_ROUND, type LeaseRecord, type RoundState } from './state.ts';

export const HISTORY_ROWS = 2000;
export const REJECTION_ROWS = 200;
export const CONTRIBUTION_ROWS = 2000;
/** Longest reason stored (a reason quotes client values: hashes, numbers; never whole bodies). */
const REASON_CHARS = 500;

const leaseKey = (id: string) => `lease:${id}`;
const clip = (s: string | undefined) => (s === undefined ? undefined : s.length > REASON_CHARS ? `${s.slice(0, REASON_CHARS - 1)}…` : s);

export class RoundStore {
  constructor(private readonly storage: DurableObjectStorage) {
    storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS history (seq INTEGER PRIMARY KEY AUTOINCREMENT, round INTEGER NOT NULL, at INTEGER NOT NULL, kind TEXT NOT NULL, entry TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS rejections (seq INTEGER PRIMARY KEY AUTOINCREMENT, round INTEGER NOT NULL, at INTEGER NOT NULL, entry TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS contributions (lease TEXT PRIMARY KEY, round INTEGER NOT NULL, contributor TEXT NOT NULL, status TEXT NOT NULL, at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS gate_parts (version INTEGER NOT NULL, part TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (version, part));
    `);
  }

  // --- key-value state -------------------------------------------------------------------

  async slug(): Promise<string | undefined> {
    return this.storage.get<string>('pair');
  }
  async setSlug(slug: string): Promise<void> {
    await this.storage.put('pair', slug);
  }
  async config(): Promise<RoundConfig> {
    // Configs stored before a field existed take its default.
    return { ...DEFAULT_ROUND_CONFIG, ...((await this.storage.get<RoundConfig>('config')) ?? {}) };
  }
  async setConfig(c: RoundConfig): Promise<void> {
    await this.storage.put('config', c);
  }
  async round(): Promise<RoundState> {
    return (await this.storage.get<RoundState>('round')) ?? FIRST_ROUND;
  }
  async setRound(r: RoundState): Promise<void> {
    await this.storage.put('round', r);
  }
  async lease(id: string): Promise<LeaseRecord | undefined> {
    return this.storage.get<LeaseRecord>(leaseKey(id));
  }
  async putLease(l: LeaseRecord): Promise<void> {
    await this.storage.put(leaseKey(l.id), l);
  }
  /** The leases of one round, in id order (the order aggregation uses). */
  async leases(round: number): Promise<LeaseRecord[]> {
    const all = await this.storage.list<LeaseRecord>({ prefix: 'lease:' });
    return [...all.values()].filter((l) => l.round === round).sort((a, b) => (a.id < b.id ? -1 : 1));
  }
  /** Forgets leases of rounds before `round` (their outcome stays in `contributions`). */
  async dropLeasesBefore(round: number): Promise<void> {
    const all = await this.storage.list<LeaseRecord>({ prefix: 'lease:' });
    const old = [...all.values()].filter((l) => l.round < round).map((l) => leaseKey(l.id));
    for (let i = 0; i < old.length; i += 128) await this.storage.delete(old.slice(i, i + 128));
  }
  get<T>(key: string): Promise<T | undefined> {
    return this.storage.get<T>(key);
  }
  async put(entries: Record<string, unknown>): Promise<void> {
    await this.storage.put(entries);
  }
  async delete(keys: string[]): Promise<void> {
    await this.storage.delete(keys);
  }

  // --- history and rejections ------------------------------------------------------------

  record(...entries: HistoryEntry[]): void {
    for (const e of entries) {
      const entry = { ...e, reason: clip(e.reason) };
      this.storage.sql.exec('INSERT INTO history (round, at, kind, entry) VALUES (?, ?, ?, ?)', e.round, e.at, e.kind, JSON.stringify(entry));
    }
    this.storage.sql.exec('DELETE FROM history WHERE seq <= (SELECT MAX(seq) FROM history) - ?', HISTORY_ROWS);
  }

  /** A page of history, newest first: entries with seq < `before` (all when absent). */
  historyPage(before: number | undefined, limit: number): { entries: Array<HistoryEntry & { seq: number }>; next: number | null } {
    const rows = this.storage.sql
      .exec<{ seq: number; entry: string }>('SELECT seq, entry FROM history WHERE seq < ? ORDER BY seq DESC LIMIT ?', before ?? Number.MAX_SAFE_INTEGER, limit + 1)
      .toArray();
    const page = rows.slice(0, limit);
    return {
      entries: page.map((r) => ({ ...(JSON.parse(r.entry) as HistoryEntry), seq: r.seq })),
      next: rows.length > limit ? page[page.length - 1].seq : null,
    };
  }

  /** The latest `n` entries, oldest first (the round status shows these). */
  latestHistory(n: number): HistoryEntry[] {
    return this.historyPage(undefined, n)
      .entries.reverse()
      .map(({ seq: _seq, ...e }) => e);
  }

  reject(r: Rejection): void {
    this.storage.sql.exec('INSERT INTO rejections (round, at, entry) VALUES (?, ?, ?)', r.round, r.at, JSON.stringify({ ...r, reason: clip(r.reason) }));
    this.storage.sql.exec('DELETE FROM rejections WHERE seq <= (SELECT MAX(seq) FROM rejections) - ?', REJECTION_ROWS);
  }

  latestRejections(n: number): Rejection[] {
    return this.storage.sql
      .exec<{ entry: string }>('SELECT entry FROM rejections ORDER BY seq DESC LIMIT ?', n)
      .toArray()
      .reverse()
      .map((r) => JSON.parse(r.entry) as Rejection);
  }

  // --- where each contribution ended up ---------------------------------------------------

  setContribution(s: ContributionStatus, contributor: string, at: number): void {
    this.storage.sql.exec(
      'INSERT INTO contributions (lease, round, contributor, status, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (lease) DO UPDATE SET status = excluded.status, at = excluded.at',
      s.lease,
      s.round,
      contributor,
      JSON.stringify({ ...s, reason: clip(s.reason) }),
      at,
    );
    this.storage.sql.exec('DELETE FROM contributions WHERE at < (SELECT at FROM contributions ORDER BY at DESC LIMIT 1 OFFSET ?)', CONTRIBUTION_ROWS);
  }

  contribution(lease: string): { status: ContributionStatus; contributor: string } | null {
    const row = this.storage.sql.exec<{ status: string; contributor: string }>('SELECT status, contributor FROM contributions WHERE lease = ?', lease).toArray()[0];
    return row ? { status: JSON.parse(row.status) as ContributionStatus, contributor: row.contributor } : null;
  }

  // --- the gate's partial results ---------------------------------------------------------

  putGatePart(version: number, part: string, data: Uint8Array): void {
    this.storage.sql.exec('INSERT OR REPLACE INTO gate_parts (version, part, data) VALUES (?, ?, ?)', version, part, data);
  }

  gateParts(version: number, prefix: string): Array<{ part: string; data: Uint8Array }> {
    return this.storage.sql
      .exec<{ part: string; data: ArrayBuffer }>("SELECT part, data FROM gate_parts WHERE version = ? AND substr(part, 1, ?) = ? ORDER BY part", version, prefix.length, prefix)
      .toArray()
      .map((r) => ({ part: r.part, data: new Uint8Array(r.data) }));
  }

  /** Forgets the per-image results of every version but those listed (their metrics live in the registry). */
  dropGatePartsExcept(versions: number[]): void {
    if (versions.length === 0) this.storage.sql.exec('DELETE FROM gate_parts');
    else this.storage.sql.exec(`DELETE FROM gate_parts WHERE version NOT IN (${versions.map(() => '?').join(',')})`, ...versions);
  }
}
